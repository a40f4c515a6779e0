/**
 * The rewrite handler between a recording writer and a fake next handler: a table of Corefile
 * rules, a query, what the next plugin answers; checked are the question the next plugin saw and
 * the reply the client gets (records written as zone-file text).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Rcode, RRClass, RRType, typeToString } from '../../dns/constants.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, replyTo, type Message, type Question, type ResourceRecord } from '../../dns/message.js';
import { parseCorefile } from '../../corefile/parser.js';
import type { Handler, SetupContext } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { rewrite } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';
import { CapturingWriter as RecordingWriter } from '../../server/testing.js';


function ctxFor(text: string): { directives: ReturnType<typeof parseCorefile>['blocks'][number]['directives']; ctx: SetupContext } {
  const block = parseCorefile(text, 'Corefile', { env: {} }).blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: text, addresses: block.addresses, port: 53, root: '/', logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings: new Map(),
  };
  return { directives: block.directives.filter((d) => d.name === 'rewrite'), ctx };
}

/** Parses "name ttl TYPE data" (the few types these tests use). */
function rr(text: string): ResourceRecord {
  const [name, ttlS, type, ...data] = text.split(/\s+/) as [string, string, string, ...string[]];
  const h = { name, class: RRClass.IN, ttl: Number(ttlS) };
  switch (type) {
    case 'A': return { ...h, type: RRType.A, address: data[0]! };
    case 'CNAME': return { ...h, type: RRType.CNAME, target: data[0]! };
    case 'PTR': return { ...h, type: RRType.PTR, target: data[0]! };
    case 'NS': return { ...h, type: RRType.NS, target: data[0]! };
    case 'MX': return { ...h, type: RRType.MX, preference: Number(data[0]), exchange: data[1]! };
    case 'SRV': return { ...h, type: RRType.SRV, priority: Number(data[0]), weight: Number(data[1]), port: Number(data[2]), target: data[3]! };
    case 'HINFO': return { ...h, type: RRType.HINFO, cpu: data[0]!, os: data[1]! };
    case 'SOA': return { ...h, type: RRType.SOA, mname: data[0]!, rname: data[1]!, serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 };
    default: throw new Error(`rr: type ${type}`);
  }
}

function show(r: ResourceRecord): string {
  const data =
    'address' in r ? r.address
    : 'exchange' in r ? `${r.preference} ${r.exchange}`
    : 'port' in r ? `${r.priority} ${r.weight} ${r.port} ${r.target}`
    : 'target' in r ? r.target
    : 'cpu' in r ? `${r.cpu} ${r.os}`
    : 'mname' in r ? `${r.mname} ${r.rname}`
    : '?';
  return `${r.name} ${r.ttl} ${typeToString(r.type)} ${data}`;
}

function query(name: string, type: number = RRType.A, qclass: number = RRClass.IN): Message {
  return { ...emptyHeader(4242), rd: true, questions: [{ name, type, class: qclass }], answers: [], authorities: [], additionals: [] };
}

interface Sent {
  reply: Message | undefined;
  rcode: number;
  seen: Request | undefined;
  seenWriter: ResponseWriter | undefined;
  req: Request;
  w: RecordingWriter;
}

/** What the next plugin does: a reply (Message, or Buffer for pre-encoded wire), or an rcode it returns without writing. */
type Next = (req: Request) => Message | Buffer | number;

async function serve(rules: string[], q: Message, next: Next): Promise<Sent> {
  const { directives, ctx } = ctxFor(`. {\n${rules.join('\n')}\n}\n`);
  const inst = rewrite.setup(directives, ctx);
  assert.ok(!(inst instanceof Promise));
  let seen: Request | undefined;
  let seenWriter: ResponseWriter | undefined;
  const fake: Handler = {
    name: 'fake',
    async serveDNS(r, w) {
      seen = r;
      seenWriter = w;
      const out = next(r);
      if (typeof out === 'number') return out;
      if (Buffer.isBuffer(out)) w.writeWire(out);
      else w.writeMsg(out);
      return Rcode.NOERROR;
    },
  };
  const h = inst.handler!(fake);
  const req = new Request(q, { transport: 'udp', remoteAddress: '192.0.2.9', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' });
  const w = new RecordingWriter();
  const rcode = await h.serveDNS(req, w);
  return { reply: w.msg, rcode, seen, seenWriter, req, w };
}

/** The next plugin's reply to the question it saw: these records, `{q}` standing for its question name. */
function answering(records: string[], sections: { ns?: string[]; extra?: string[]; rcode?: number } = {}): Next {
  return (req) => {
    const m = replyTo(req.msg, sections.rcode ?? Rcode.NOERROR);
    const fill = (l: string[] = []): ResourceRecord[] => l.map((t) => rr(t.replaceAll('{q}', req.qname)));
    m.answers = fill(records);
    m.authorities = fill(sections.ns);
    m.additionals = fill(sections.extra);
    return m;
  };
}

interface Case {
  title: string;
  rules: string[];
  q: Message;
  next: Next;
  /** The question the next plugin must see. */
  seen: Question;
  answers: string[];
  ns?: string[];
  extra?: string[];
  rcode?: number;
}

const A = RRType.A;
const IN = RRClass.IN;

const cases: Case[] = [
  {
    title: 'exact: the asked name (with its case) in the question, the lower-cased name in the answer',
    rules: ['rewrite name foo.example.org bar.example.org'],
    q: query('Foo.Example.ORG.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'bar.example.org.', type: A, class: IN },
    answers: ['foo.example.org. 5 A 10.0.0.1'],
  },
  {
    title: 'exact: names below the rewritten one and CNAME targets mapped back too',
    rules: ['rewrite stop name exact foo.example.org. bar.example.org.'],
    q: query('foo.example.org.'),
    next: answering(['bar.example.org. 5 CNAME www.bar.example.org.', 'www.bar.example.org. 5 A 10.0.0.2', 'other.example.org. 5 A 10.0.0.3']),
    seen: { name: 'bar.example.org.', type: A, class: IN },
    answers: ['foo.example.org. 5 CNAME www.foo.example.org.', 'www.foo.example.org. 5 A 10.0.0.2', 'other.example.org. 5 A 10.0.0.3'],
  },
  {
    title: 'prefix without answer rules: only the question is restored (CoreDNS)',
    rules: ['rewrite name prefix prefix to'],
    q: query('prefix.nl.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'to.nl.', type: A, class: IN },
    answers: ['to.nl. 5 A 10.0.0.1'],
  },
  {
    title: 'prefix with answer auto',
    rules: ['rewrite name prefix prefix to answer auto'],
    q: query('prefix.nl.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'to.nl.', type: A, class: IN },
    answers: ['prefix.nl. 5 A 10.0.0.1'],
  },
  {
    title: 'suffix with answer auto: the suffix swapped back in owners and values, in every section',
    rules: ['rewrite name suffix .schmoogle.com. .google.com. answer auto'],
    q: query('www.schmoogle.com.'),
    next: answering(['www.google.com. 300 CNAME web.google.com.', 'web.google.com. 300 A 10.0.0.1'], { ns: ['google.com. 60 SOA ns.google.com. hostmaster.google.com.'], extra: ['x.google.com. 60 A 10.0.0.9'] }),
    seen: { name: 'www.google.com.', type: A, class: IN },
    answers: ['www.schmoogle.com. 300 CNAME web.schmoogle.com.', 'web.schmoogle.com. 300 A 10.0.0.1'],
    ns: ['google.com. 60 SOA ns.schmoogle.com. hostmaster.google.com.'],
    extra: ['x.schmoogle.com. 60 A 10.0.0.9'],
  },
  {
    title: 'substring',
    rules: ['rewrite name substring service.us-west-1.example.org service.us-west-1.consul answer auto'],
    q: query('ftp.service.us-west-1.example.org.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'ftp.service.us-west-1.consul.', type: A, class: IN },
    answers: ['ftp.service.us-west-1.example.org. 5 A 10.0.0.1'],
  },
  {
    title: 'regex with {N} groups and an explicit answer name rule (the README example)',
    rules: ['rewrite stop {\n name regex (.*)-(us-west-1)\\.coredns\\.rocks {1}.service.{2}.consul\n answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.coredns.rocks\n}'],
    q: query('ftp-us-west-1.coredns.rocks.'),
    next: answering(['{q} 0 A 10.10.10.10', '{q} 0 A 10.20.20.20']),
    seen: { name: 'ftp.service.us-west-1.consul.', type: A, class: IN },
    answers: ['ftp-us-west-1.coredns.rocks. 0 A 10.10.10.10', 'ftp-us-west-1.coredns.rocks. 0 A 10.20.20.20'],
  },
  {
    title: 'regex without answer rules leaves the answer names alone',
    rules: ['rewrite name regex (.*)-(us-west-1)\\.coredns\\.rocks {1}.service.{2}.consul'],
    q: query('ftp-us-west-1.coredns.rocks.'),
    next: answering(['{q} 0 A 10.10.10.10']),
    seen: { name: 'ftp.service.us-west-1.consul.', type: A, class: IN },
    answers: ['ftp.service.us-west-1.consul. 0 A 10.10.10.10'],
  },
  {
    title: 'answer value rewrites PTR, SRV and MX targets',
    rules: ['rewrite name suffix .arpa .arpa answer auto answer value (.*)\\.service\\.consul\\. {1}.coredns.rocks.'],
    q: query('30.30.30.10.in-addr.arpa.', RRType.PTR),
    next: answering(['{q} 60 PTR ftp-us-west-1.service.consul.', 'x.arpa. 60 SRV 0 0 53 ns.service.consul.', 'x.arpa. 60 MX 10 mail.service.consul.', 'x.arpa. 60 CNAME other.example.']),
    seen: { name: '30.30.30.10.in-addr.arpa.', type: RRType.PTR, class: IN },
    answers: ['30.30.30.10.in-addr.arpa. 60 PTR ftp-us-west-1.coredns.rocks.', 'x.arpa. 60 SRV 0 0 53 ns.coredns.rocks.', 'x.arpa. 60 MX 10 mail.coredns.rocks.', 'x.arpa. 60 CNAME other.example.'],
  },
  {
    title: 'type: the next plugin is asked HINFO, the client sees its ANY question',
    rules: ['rewrite type ANY HINFO'],
    q: query('example.org.', RRType.ANY),
    next: answering(['{q} 5 HINFO RFC8482 none']),
    seen: { name: 'example.org.', type: RRType.HINFO, class: IN },
    answers: ['example.org. 5 HINFO RFC8482 none'],
  },
  {
    title: 'class: CH asked as IN',
    rules: ['rewrite class CH IN'],
    q: query('example.org.', A, RRClass.CH),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'example.org.', type: A, class: IN },
    answers: ['example.org. 5 A 10.0.0.1'],
  },
  {
    title: 'ttl range: raised to MIN, cut to MAX, kept inside, in every section',
    rules: ['rewrite ttl example.com. 30-300'],
    q: query('example.com.'),
    next: answering(['{q} 5 A 10.0.0.1', '{q} 1000 A 10.0.0.2', '{q} 100 A 10.0.0.3'], { extra: ['ns.example.com. 0 A 10.0.0.4'] }),
    seen: { name: 'example.com.', type: A, class: IN },
    answers: ['example.com. 30 A 10.0.0.1', 'example.com. 300 A 10.0.0.2', 'example.com. 100 A 10.0.0.3'],
    extra: ['ns.example.com. 30 A 10.0.0.4'],
  },
  {
    title: 'ttl: a single value sets every TTL; other names are left alone',
    rules: ['rewrite ttl regex (.*)\\.coredns\\.rocks 15'],
    q: query('a.example.com.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'a.example.com.', type: A, class: IN },
    answers: ['a.example.com. 5 A 10.0.0.1'],
  },
  {
    title: 'ttl: regex match',
    rules: ['rewrite ttl regex (.*)\\.coredns\\.rocks 15'],
    q: query('a.coredns.rocks.'),
    next: answering(['{q} 5 A 10.0.0.1', '{q} 3600 A 10.0.0.2']),
    seen: { name: 'a.coredns.rocks.', type: A, class: IN },
    answers: ['a.coredns.rocks. 15 A 10.0.0.1', 'a.coredns.rocks. 15 A 10.0.0.2'],
  },
  {
    title: 'rcode: a written SERVFAIL becomes NOERROR',
    rules: ['rewrite rcode suffix example.com. SERVFAIL NOERROR'],
    q: query('a.example.com.'),
    next: answering([], { rcode: Rcode.SERVFAIL }),
    seen: { name: 'a.example.com.', type: A, class: IN },
    answers: [],
    rcode: Rcode.NOERROR,
  },
  {
    title: 'rcode: the SERVFAIL the next plugin returns without writing is written here and rewritten',
    rules: ['rewrite rcode a.example.com 2 0'],
    q: query('a.example.com.'),
    next: () => Rcode.SERVFAIL,
    seen: { name: 'a.example.com.', type: A, class: IN },
    answers: [],
    rcode: Rcode.NOERROR,
  },
  {
    title: 'rcode: other rcodes are left alone',
    rules: ['rewrite rcode a.example.com SERVFAIL NOERROR'],
    q: query('a.example.com.'),
    next: answering([], { rcode: Rcode.NXDOMAIN }),
    seen: { name: 'a.example.com.', type: A, class: IN },
    answers: [],
    rcode: Rcode.NXDOMAIN,
  },
  {
    title: 'continue: later rules see the rewritten name; answers are reverted last rule first',
    rules: ['rewrite continue name suffix .a. .b. answer auto', 'rewrite name exact x.b. y.c.'],
    q: query('x.a.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'y.c.', type: A, class: IN },
    answers: ['x.a. 5 A 10.0.0.1'],
  },
  {
    title: 'stop (the default): the first matching rule ends the list',
    rules: ['rewrite name suffix .a. .b. answer auto', 'rewrite name exact x.b. y.c.'],
    q: query('x.a.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'x.b.', type: A, class: IN },
    answers: ['x.a. 5 A 10.0.0.1'],
  },
  {
    title: 'stop: a rule that does not match does not stop the list',
    rules: ['rewrite name exact nothere. y.c.', 'rewrite continue type A AAAA', 'rewrite ttl x.a. 60'],
    q: query('x.a.'),
    next: answering(['{q} 5 A 10.0.0.1']),
    seen: { name: 'x.a.', type: RRType.AAAA, class: IN },
    answers: ['x.a. 60 A 10.0.0.1'],
  },
  {
    title: 'a reply written as pre-encoded wire is decoded and reverted the same way',
    rules: ['rewrite name foo.example.org bar.example.org'],
    q: query('foo.example.org.'),
    next: (req) => encodeMessage(answering(['{q} 5 A 10.0.0.1'])(req) as Message),
    seen: { name: 'bar.example.org.', type: A, class: IN },
    answers: ['foo.example.org. 5 A 10.0.0.1'],
  },
  {
    title: 'an error the next plugin returns unwritten reaches the client with the asked question',
    rules: ['rewrite name foo.example.org bar.example.org'],
    q: query('Foo.example.org.'),
    next: () => Rcode.REFUSED,
    seen: { name: 'bar.example.org.', type: A, class: IN },
    answers: [],
    rcode: Rcode.REFUSED,
  },
];

describe('rewrite handler', () => {
  for (const c of cases) {
    it(c.title, async () => {
      const s = await serve(c.rules, c.q, c.next);
      assert.deepEqual(s.seen?.question, c.seen, 'question seen by the next plugin');
      assert.equal(s.seen?.name, c.seen.name.toLowerCase());
      const reply = s.reply;
      assert.ok(reply, 'a reply was written');
      assert.equal(s.w.writes, 1);
      assert.equal(s.rcode, Rcode.NOERROR);
      assert.deepEqual(reply.questions, c.q.questions, 'the client sees its own question');
      assert.equal(reply.id, c.q.id);
      assert.equal(reply.rcode, c.rcode ?? Rcode.NOERROR);
      assert.deepEqual(reply.answers.map(show), c.answers);
      assert.deepEqual(reply.authorities.map(show), c.ns ?? []);
      assert.deepEqual(reply.additionals.map(show), c.extra ?? []);
    });
  }

  it('passes a query no rule matches through untouched: same request, same writer', async () => {
    const s = await serve(['rewrite name foo.example.org bar.example.org', 'rewrite type MX A'], query('x.example.org.'), answering(['{q} 5 A 10.0.0.1']));
    assert.equal(s.seen, s.req);
    assert.equal(s.seenWriter, s.w);
    assert.deepEqual(s.reply!.answers.map(show), ['x.example.org. 5 A 10.0.0.1']);
  });

  it('keeps the request (and its wire bytes) when only reply rules matched', async () => {
    const s = await serve(['rewrite ttl x.example.org 60'], query('x.example.org.'), answering(['{q} 5 A 10.0.0.1']));
    assert.equal(s.seen, s.req);
    assert.notEqual(s.seenWriter, s.w);
    assert.deepEqual(s.reply!.answers.map(show), ['x.example.org. 60 A 10.0.0.1']);
  });

  it('answers SERVFAIL without asking the next plugin when the rewritten name is not a valid name', async () => {
    // 8 copies of a 10-byte label make one 80-byte label: longer than 63.
    const s = await serve(['rewrite name regex ^([a-z]+)\\.example\\.$ {1}{1}{1}{1}{1}{1}{1}{1}.example.'], query('abcdefghij.example.'), answering([]));
    assert.equal(s.rcode, Rcode.SERVFAIL);
    assert.equal(s.seen, undefined);
    assert.equal(s.w.written, false);
  });

  it('does not change the reply object the next plugin wrote (it may be cached)', async () => {
    let written: Message | undefined;
    const s = await serve(['rewrite name suffix .a. .b. answer auto'], query('x.a.'), (req) => {
      written = answering(['{q} 5 A 10.0.0.1'])(req) as Message;
      return written;
    });
    assert.deepEqual(s.reply!.answers.map(show), ['x.a. 5 A 10.0.0.1']);
    assert.deepEqual(written!.answers.map(show), ['x.b. 5 A 10.0.0.1']);
    assert.equal(written!.questions[0]!.name, 'x.b.');
  });

  it('does not rewrite an extended rcode into a reply that has no OPT to carry it', async () => {
    const s = await serve(['rewrite rcode x.a. NXDOMAIN BADCOOKIE'], query('x.a.'), answering([], { rcode: Rcode.NXDOMAIN }));
    assert.equal(s.reply!.rcode, Rcode.NXDOMAIN);
    const withEdns = { ...query('x.a.'), edns: { udpSize: 1232, version: 0, do: false, options: [] } };
    const s2 = await serve(['rewrite rcode x.a. NXDOMAIN BADCOOKIE'], withEdns, answering([], { rcode: Rcode.NXDOMAIN }));
    assert.equal(s2.reply!.rcode, 23);
  });
});
