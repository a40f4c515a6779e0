/**
 * The acl handler between a recording writer and a fake next handler: a table of acl blocks, a
 * query type and a source address, and what must happen (next plugin, REFUSED, NODATA, no reply),
 * with the metrics counted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { emptyHeader, replyTo, type Edns, type Message } from '../../dns/message.js';
import { parseCorefile } from '../../corefile/parser.js';
import { registry } from '../../metrics/registry.js';
import { NO_REPLY } from '../../plugin/chain.js';
import type { Handler, SetupContext } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { EDE_BLOCKED, EDE_FILTERED } from './handler.js';
import { acl } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';

class RecordingWriter implements ResponseWriter {
  msgs: Message[] = [];
  get written(): boolean {
    return this.msgs.length > 0;
  }
  get sentBytes(): number {
    return 0;
  }
  writeMsg(m: Message): void {
    this.msgs.push(m);
  }
  writeWire(): void {
    throw new Error('acl writes Messages');
  }
}

let serverSeq = 0;

function build(key: string, body: string, next: Handler): Handler {
  const text = `${key} {\n${body}\n}\n`;
  const block = parseCorefile(text, 'Corefile', { env: {} }).blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: text, addresses: block.addresses, port: 53, root: '/', logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings: new Map(),
  };
  const inst = acl.setup(block.directives.filter((d) => d.name === 'acl'), ctx);
  assert.ok(!(inst instanceof Promise));
  return inst.handler!(next);
}

type Outcome = 'next' | 'block' | 'filter' | 'drop';

interface Case {
  title: string;
  key?: string;
  acl: string;
  name?: string;
  type?: number;
  from: string;
  want: Outcome;
  /** The zone label of the counted metric (block, filter, drop). */
  zone?: string;
}

const cases: Case[] = [
  { title: 'block A from a matching /16', acl: 'acl {\n block type A net 192.168.0.0/16\n}', from: '192.168.1.2', want: 'block', zone: '.' },
  { title: 'block A: another type passes', acl: 'acl {\n block type A net 192.168.0.0/16\n}', type: RRType.AAAA, from: '192.168.1.2', want: 'next' },
  { title: 'block A: another network passes', acl: 'acl {\n block type A net 192.168.0.0/16\n}', from: '10.0.0.1', want: 'next' },
  { title: 'type * matches every type', acl: 'acl {\n block type * net 192.168.0.0/16\n}', type: RRType.MX, from: '192.168.1.2', want: 'block', zone: '.' },
  { title: 'net * matches every source', acl: 'acl {\n block type A net *\n}', from: '2001:db8::1', want: 'block', zone: '.' },
  { title: 'no type and no net: every query', acl: 'acl {\n block\n}', type: RRType.TXT, from: '203.0.113.1', want: 'block', zone: '.' },
  { title: 'several types', acl: 'acl {\n filter type AAAA MX\n}', type: RRType.MX, from: '10.0.0.1', want: 'filter', zone: '.' },
  { title: 'filter answers NODATA', acl: 'acl {\n filter type A net 192.168.0.0/16\n}', from: '192.168.9.9', want: 'filter', zone: '.' },
  { title: 'drop sends nothing', acl: 'acl {\n drop net 192.0.2.0/24\n}', from: '192.0.2.77', want: 'drop', zone: '.' },
  { title: 'drop: others pass', acl: 'acl {\n drop net 192.0.2.0/24\n}', from: '192.0.3.1', want: 'next' },
  { title: 'first match wins: allow before block', acl: 'acl {\n allow net 192.168.1.0/24\n block net 192.168.0.0/16\n}', from: '192.168.1.5', want: 'next' },
  { title: 'first match wins: block for the rest of the /16', acl: 'acl {\n allow net 192.168.1.0/24\n block net 192.168.0.0/16\n}', from: '192.168.2.5', want: 'block', zone: '.' },
  { title: 'allow-list: listed networks pass', acl: 'acl {\n allow net 192.168.0.0/24 192.168.1.0/24\n block\n}', from: '192.168.1.200', want: 'next' },
  { title: 'allow-list: everything else is blocked', acl: 'acl {\n allow net 192.168.0.0/24 192.168.1.0/24\n block\n}', from: '192.168.2.1', want: 'block', zone: '.' },
  { title: 'zones: a name outside the acl zones is not checked', key: 'example.org', acl: 'acl a.example.org {\n block net 192.168.1.0/24\n}', name: 'b.example.org.', from: '192.168.1.1', want: 'next' },
  { title: 'zones: a name inside is', key: 'example.org', acl: 'acl a.example.org {\n block net 192.168.1.0/24\n}', name: 'www.a.example.org.', from: '192.168.1.1', want: 'block', zone: 'a.example.org.' },
  { title: 'several directives: checked in order, a rule with no match defers to the next', key: 'example.org', acl: 'acl a.example.org {\n block net 10.0.0.0/8\n}\nacl example.org {\n filter net 192.168.0.0/16\n}', name: 'a.example.org.', from: '192.168.0.1', want: 'filter', zone: 'example.org.' },
  { title: 'several directives: allow in the first ends the checks', acl: 'acl {\n allow net 192.168.0.1\n}\nacl {\n block\n}', from: '192.168.0.1', want: 'next' },
  { title: 'several directives: the second one still applies to others', acl: 'acl {\n allow net 192.168.0.1\n}\nacl {\n block\n}', from: '192.168.0.2', want: 'block', zone: '.' },
  { title: 'IPv6 network', acl: 'acl {\n block net 2001:db8:abcd:0012::0/64\n}', from: '2001:db8:abcd:12::99', want: 'block', zone: '.' },
  { title: 'IPv6 network: outside', acl: 'acl {\n block net 2001:db8:abcd:0012::0/64\n}', from: '2001:db8:abcd:13::1', want: 'next' },
  { title: 'single IPv6 address', acl: 'acl {\n drop net ::1\n}', from: '::1', want: 'drop', zone: '.' },
  { title: 'IPv4-mapped source against an IPv4 network', acl: 'acl {\n block net 127.0.0.0/8\n}', from: '::ffff:127.0.0.1', want: 'block', zone: '.' },
  { title: 'an unparsable source is blocked', acl: 'acl {\n allow\n}', from: 'garbage', want: 'block', zone: '.' },
  { title: 'no policies: allowed', acl: 'acl', from: '10.0.0.1', want: 'next' },
];

function query(name: string, type: number, edns: Edns | undefined): Message {
  return { ...emptyHeader(77), rd: true, questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [], ...(edns ? { edns } : {}) };
}

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}

describe('acl handler', () => {
  for (const c of cases) {
    it(c.title, async () => {
      const server = `dns://:acl-test-${++serverSeq}`;
      let called = 0;
      const next: Handler = {
        name: 'fake',
        async serveDNS(req, w) {
          called++;
          const m = replyTo(req.msg);
          m.answers.push({ name: req.qname, class: RRClass.IN, ttl: 5, type: RRType.A, address: '10.0.0.1' });
          w.writeMsg(m);
          return Rcode.NOERROR;
        },
      };
      const h = build(c.key ?? '.', c.acl, next);
      const name = c.name ?? (c.key && c.key !== '.' ? `www.${c.key}.` : 'www.example.org.');
      const edns: Edns = { udpSize: 1232, version: 0, do: false, options: [] };
      const req = new Request(query(name, c.type ?? RRType.A, edns), { transport: 'udp', remoteAddress: c.from, remotePort: 1053, localAddress: '127.0.0.1', localPort: 53, server });
      const w = new RecordingWriter();
      const rcode = await h.serveDNS(req, w);
      const zone = c.zone ?? '';
      switch (c.want) {
        case 'next':
          assert.equal(called, 1);
          assert.equal(rcode, Rcode.NOERROR);
          assert.equal(w.msgs.length, 1);
          assert.equal(w.msgs[0]!.answers.length, 1);
          assert.equal(await counter('coredns_acl_allowed_requests_total', { server, view: '' }), 1);
          break;
        case 'block':
        case 'filter': {
          assert.equal(called, 0);
          assert.equal(rcode, Rcode.NOERROR, 'written: the server must not write another reply');
          assert.equal(w.msgs.length, 1);
          const m = w.msgs[0]!;
          assert.equal(m.rcode, c.want === 'block' ? Rcode.REFUSED : Rcode.NOERROR);
          assert.deepEqual(m.questions, req.msg.questions);
          assert.equal(m.id, 77);
          assert.equal(m.answers.length + m.authorities.length + m.additionals.length, 0);
          const ede = m.edns?.options.find((o) => o.code === 15);
          assert.deepEqual(ede && [...ede.data], [0, c.want === 'block' ? EDE_BLOCKED : EDE_FILTERED]);
          const metric = c.want === 'block' ? 'coredns_acl_blocked_requests_total' : 'coredns_acl_filtered_requests_total';
          assert.equal(await counter(metric, { server, zone, view: '' }), 1);
          break;
        }
        case 'drop':
          assert.equal(called, 0);
          assert.equal(rcode, NO_REPLY);
          assert.equal(w.msgs.length, 0);
          assert.equal(await counter('coredns_acl_dropped_requests_total', { server, zone, view: '' }), 1);
          break;
      }
      if (c.want !== 'next') assert.equal(await counter('coredns_acl_allowed_requests_total', { server, view: '' }), 0);
    });
  }
});
