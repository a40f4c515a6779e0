/**
 * autopath in front of the real kubernetes handler (a RecordStore with `pods verified`) and a
 * fake upstream: a table of DNS cases, each a client address and a query, checked for the reply
 * (records as zone-file text, in order: the CNAME must come first) and for the names the plugins
 * behind autopath were asked.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { parseCorefile } from '../../corefile/parser.js';
import { Rcode, RRClass, RRType, rcodeToString, stringToType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { emptyHeader, replyTo, type Message } from '../../dns/message.js';
import { parseRR } from '../../dns/presentation.js';
import { RecordStore } from '../../kubernetes/record-store.js';
import { clusterIpService, externalService, norm, rrText } from '../../kubernetes/testing.js';
import { registry } from '../../metrics/registry.js';
import { buildChain, isClientWrite } from '../../plugin/chain.js';
import type { Handler, ProcessServices } from '../../plugin/types.js';
import { Request, type RequestOrigin } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { parseKubernetesConfig } from '../kubernetes/config.js';
import { KubernetesHandler } from '../kubernetes/handler.js';
import { AutopathHandler, type SearchPathFunc } from './handler.js';
import { kubernetesSearchPath } from './kubernetes.js';
import { withSentinel } from './search-path.js';

const POD_IP = '10.244.1.5';
const SERVER = 'dns://:53';

class RecordingWriter implements ResponseWriter {
  msg: Message | undefined;
  writes = 0;
  get written(): boolean {
    return this.writes > 0;
  }
  get sentBytes(): number {
    return 0;
  }
  writeMsg(m: Message): void {
    this.writes++;
    this.msg = m;
  }
  writeWire(b: Buffer): void {
    this.writes++;
    this.msg = decodeMessage(b);
  }
}

/** An upstream behind kubernetes (forward's place): answers from a table, NXDOMAIN with an SOA otherwise. */
class FakeUpstream implements Handler {
  readonly name = 'upstream';
  readonly asked: string[] = [];
  /** Names answered SERVFAIL without writing (an upstream that failed). */
  readonly failing = new Set<string>();
  constructor(private readonly records: string[]) {}
  async serveDNS(req: Request, w: ResponseWriter): Promise<number> {
    this.asked.push(req.qname);
    if (this.failing.has(req.name)) return Rcode.SERVFAIL;
    const known = this.records.map((t) => parseRR(t)).filter((rr) => rr.name === req.name);
    const m = replyTo(req.msg, known.length === 0 ? Rcode.NXDOMAIN : Rcode.NOERROR);
    // Owners as the client spelled them, as a real server echoes them.
    m.answers = known.filter((rr) => rr.type === req.qtype).map((rr) => ({ ...rr, name: req.qname }));
    if (known.length === 0) m.authorities = [parseRR('. 60 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400')];
    w.writeMsg(m);
    return m.rcode;
  }
}

interface Setup {
  chain: Handler;
  upstream: FakeUpstream;
  /** Every name the kubernetes plugin was asked (through autopath's tries or directly). */
  kubeAsked: string[];
  store: RecordStore;
}

function kubeSetup(hostSearch: string[] = []): Setup {
  const block = parseCorefile('.:53 {\n    kubernetes cluster.local in-addr.arpa {\n        pods verified\n    }\n}\n', 'Corefile', { env: {} }).blocks[0]!;
  const cfg = parseKubernetesConfig(block.directives[0]!, block.addresses, '/');
  const store = new RecordStore({ pods: 'verified', now: () => 1_700_000_000_000 });
  for (const ns of ['prod', 'staging']) store.upsertNamespace({ name: ns });
  store.upsertService(clusterIpService('prod', 'web', ['10.96.0.10']));
  store.upsertService(clusterIpService('staging', 'web', ['10.96.0.20']));
  store.upsertService(externalService('prod', 'ext', 'www.example.org.'));
  store.upsertPod({ namespace: 'prod', name: 'client', ips: [POD_IP], running: true });
  store.upsertPod({ namespace: 'staging', name: 'pending', ips: ['10.244.1.9'], running: false });
  const upstream = new FakeUpstream(['www.example.org. 300 IN A 93.184.216.34', 'www.example.org.corp.example. 30 IN A 192.0.2.1']);
  const services = {
    resolve: async (_port: number, name: string, type: number, parent: Request) => {
      const w = new RecordingWriter();
      await upstream.serveDNS(parent.withQuestion({ name, type, class: RRClass.IN }), w);
      return w.msg!;
    },
  } as unknown as ProcessServices;
  const kube = new KubernetesHandler(cfg, { store, synced: () => true, whenSynced: async () => {} }, services, 53, ['10.96.0.100']);
  const kubeAsked: string[] = [];
  const autopath = new AutopathHandler(['.'], kubernetesSearchPath(() => kube, hostSearch));
  const chain = buildChain([
    (next) => autopath.withNext(next),
    (next) => ({ name: 'kubernetes', serveDNS: (req, w) => { kubeAsked.push(req.qname); return kube.serve(next, req, w); } }),
    () => upstream,
  ])!;
  return { chain, upstream, kubeAsked, store };
}

async function ask(chain: Handler, name: string, type = 'A', remoteAddress = POD_IP): Promise<{ rcode: number; reply: Message | undefined; req: Request }> {
  const origin: RequestOrigin = { transport: 'udp', remoteAddress, remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: SERVER };
  const q: Message = { ...emptyHeader(4242), rd: true, questions: [{ name, type: stringToType(type)!, class: RRClass.IN }], answers: [], authorities: [], additionals: [] };
  const req = new Request(q, origin);
  const w = new RecordingWriter();
  const rcode = await chain.serveDNS(req, w);
  assert.ok(w.writes <= 1, 'at most one reply is written');
  assert.equal(isClientWrite(rcode), w.written, 'the rcode says whether a reply was written');
  return { rcode, reply: w.msg, req };
}

async function successes(): Promise<number> {
  const m = (await registry.getSingleMetric('coredns_autopath_success_total')?.get())?.values.find((v) => v.labels.server === SERVER);
  return m?.value ?? 0;
}

interface Case {
  what: string;
  qname: string;
  qtype?: string;
  from?: string;
  rcode: keyof typeof Rcode;
  /** The answer section in order, as zone-file text. */
  answer: string[];
  /** Owners of the authority section. */
  ns?: string[];
  /** The names the kubernetes plugin was asked, in order. */
  tried: string[];
  autopathed: boolean;
}

const cases: Case[] = [
  {
    what: 'a Service asked as the Pod\'s first search-path expansion',
    qname: 'web.prod.svc.cluster.local.prod.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: [
      'web.prod.svc.cluster.local.prod.svc.cluster.local. 5 IN CNAME web.prod.svc.cluster.local.',
      'web.prod.svc.cluster.local. 5 IN A 10.96.0.10',
    ],
    tried: [
      'web.prod.svc.cluster.local.prod.svc.cluster.local.', 'web.prod.svc.cluster.local.svc.cluster.local.',
      'web.prod.svc.cluster.local.cluster.local.', 'web.prod.svc.cluster.local.',
    ],
    autopathed: true,
  },
  {
    what: 'a short name in the Pod\'s own namespace: found at once, so only the question changes (no CNAME)',
    qname: 'web.prod.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: ['web.prod.svc.cluster.local. 5 IN A 10.96.0.10'],
    tried: ['web.prod.svc.cluster.local.'],
    autopathed: true,
  },
  {
    what: 'another namespace\'s Service by service.namespace',
    qname: 'web.staging.prod.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: [
      'web.staging.prod.svc.cluster.local. 5 IN CNAME web.staging.svc.cluster.local.',
      'web.staging.svc.cluster.local. 5 IN A 10.96.0.20',
    ],
    tried: ['web.staging.prod.svc.cluster.local.', 'web.staging.svc.cluster.local.'],
    autopathed: true,
  },
  {
    what: 'an external name: the search domains fail in kubernetes, the name itself is answered upstream',
    qname: 'www.example.org.prod.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: ['www.example.org.prod.svc.cluster.local. 300 IN CNAME www.example.org.', 'www.example.org. 300 IN A 93.184.216.34'],
    tried: [
      'www.example.org.prod.svc.cluster.local.', 'www.example.org.svc.cluster.local.', 'www.example.org.cluster.local.', 'www.example.org.',
    ],
    autopathed: true,
  },
  {
    what: 'the asked spelling is kept in the CNAME owner and the question, and the tries',
    qname: 'WWW.Example.org.PROD.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: ['WWW.Example.org.PROD.svc.cluster.local. 300 IN CNAME WWW.Example.org.', 'WWW.Example.org. 300 IN A 93.184.216.34'],
    tried: [
      'WWW.Example.org.prod.svc.cluster.local.', 'WWW.Example.org.svc.cluster.local.', 'WWW.Example.org.cluster.local.', 'WWW.Example.org.',
    ],
    autopathed: true,
  },
  {
    what: 'an ExternalName Service: CoreDNS\'s CNAME goes to the first record not owned by the asked name',
    qname: 'ext.prod.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: [
      'ext.prod.svc.cluster.local. 5 IN CNAME www.example.org.',
      'www.example.org. 300 IN A 93.184.216.34',
    ],
    tried: ['ext.prod.svc.cluster.local.'],
    autopathed: true,
  },
  {
    what: 'nothing anywhere: the reply to the name as asked, untouched, for the client to search on',
    qname: 'nope.example.prod.svc.cluster.local.',
    rcode: 'NXDOMAIN',
    answer: [],
    ns: ['cluster.local.'],
    tried: [
      'nope.example.prod.svc.cluster.local.', 'nope.example.svc.cluster.local.', 'nope.example.cluster.local.', 'nope.example.',
    ],
    autopathed: false,
  },
  {
    what: 'NODATA is an answer (CoreDNS stops at the first reply that is not NXDOMAIN)',
    qname: 'web.prod.svc.cluster.local.prod.svc.cluster.local.',
    qtype: 'AAAA',
    rcode: 'NOERROR',
    answer: [],
    ns: ['cluster.local.'],
    tried: [
      'web.prod.svc.cluster.local.prod.svc.cluster.local.', 'web.prod.svc.cluster.local.svc.cluster.local.',
      'web.prod.svc.cluster.local.cluster.local.', 'web.prod.svc.cluster.local.',
    ],
    autopathed: true,
  },
  {
    what: 'a client address with no Pod is not touched',
    qname: 'web.prod.svc.cluster.local.prod.svc.cluster.local.',
    from: '10.244.7.7',
    rcode: 'NXDOMAIN',
    answer: [],
    ns: ['cluster.local.'],
    tried: ['web.prod.svc.cluster.local.prod.svc.cluster.local.'],
    autopathed: false,
  },
  {
    what: 'a Pod that is not Running is not in the index',
    qname: 'web.staging.svc.cluster.local.staging.svc.cluster.local.',
    from: '10.244.1.9',
    rcode: 'NXDOMAIN',
    answer: [],
    ns: ['cluster.local.'],
    tried: ['web.staging.svc.cluster.local.staging.svc.cluster.local.'],
    autopathed: false,
  },
  {
    what: 'an IPv4-mapped client address finds the Pod (a dual-stack TCP listener)',
    qname: 'web.staging.prod.svc.cluster.local.',
    from: `::ffff:${POD_IP}`,
    rcode: 'NOERROR',
    answer: [
      'web.staging.prod.svc.cluster.local. 5 IN CNAME web.staging.svc.cluster.local.',
      'web.staging.svc.cluster.local. 5 IN A 10.96.0.20',
    ],
    tried: ['web.staging.prod.svc.cluster.local.', 'web.staging.svc.cluster.local.'],
    autopathed: true,
  },
  {
    what: 'a later search domain is the client searching on after autopath found nothing: not touched',
    qname: 'www.example.org.svc.cluster.local.',
    rcode: 'NXDOMAIN',
    answer: [],
    ns: ['cluster.local.'],
    tried: ['www.example.org.svc.cluster.local.'],
    autopathed: false,
  },
  {
    what: 'the first search domain itself is passed on (CoreDNS answers SERVFAIL)',
    qname: 'prod.svc.cluster.local.',
    rcode: 'NOERROR',
    answer: [],
    ns: ['cluster.local.'],
    tried: ['prod.svc.cluster.local.'],
    autopathed: false,
  },
  {
    what: 'names outside the kubernetes zones are not autopathed',
    qname: 'www.example.org.',
    rcode: 'NOERROR',
    answer: ['www.example.org. 300 IN A 93.184.216.34'],
    tried: ['www.example.org.'],
    autopathed: false,
  },
];

describe('autopath @kubernetes in front of the kubernetes plugin', () => {
  for (const c of cases) {
    it(c.what, async () => {
      const s = kubeSetup();
      const before = await successes();
      const { rcode, reply, req } = await ask(s.chain, c.qname, c.qtype, c.from);
      assert.ok(reply, 'a reply was written');
      assert.equal(rcodeToString(reply.rcode), c.rcode, 'rcode');
      assert.equal(rcode, reply.rcode, 'returned rcode');
      assert.equal(reply.id, 4242, 'ID');
      assert.deepEqual(reply.questions, [req.question], 'the question as asked');
      assert.deepEqual(reply.answers.map(rrText), c.answer.map(norm), 'answer, in order');
      assert.deepEqual(reply.authorities.map((rr) => rr.name), c.ns ?? [], 'authority');
      assert.deepEqual(s.kubeAsked, c.tried, 'names tried');
      assert.equal(await successes(), before + (c.autopathed ? 1 : 0), 'coredns_autopath_success_total');
    });
  }

  it('tries the server\'s own search domains after the Pod\'s, before the name itself', async () => {
    const s = kubeSetup(['corp.example.', 'example.']);
    const { reply } = await ask(s.chain, 'www.example.org.prod.svc.cluster.local.');
    assert.deepEqual(reply!.answers.map(rrText), [
      'www.example.org.prod.svc.cluster.local. 30 IN CNAME www.example.org.corp.example.',
      'www.example.org.corp.example. 30 IN A 192.0.2.1',
    ]);
    assert.deepEqual(s.upstream.asked, ['www.example.org.corp.example.']);
  });

  it('follows the Pod when it moves: its IP in another namespace gets that namespace\'s path', async () => {
    const s = kubeSetup();
    s.store.deletePod('prod', 'client');
    s.store.upsertPod({ namespace: 'staging', name: 'moved', ips: [POD_IP], running: true });
    const { reply } = await ask(s.chain, 'web.staging.svc.cluster.local.');
    assert.deepEqual(reply!.answers.map(rrText), ['web.staging.svc.cluster.local. 5 IN A 10.96.0.20']);
    assert.deepEqual(s.kubeAsked, ['web.staging.svc.cluster.local.']);
    assert.equal(reply!.rcode, Rcode.NOERROR);
  });

  it('goes past a search domain that failed (SERVFAIL) to the next', async () => {
    const s = kubeSetup(['corp.example.']);
    s.upstream.failing.add('www.example.org.corp.example.');
    const { reply } = await ask(s.chain, 'www.example.org.prod.svc.cluster.local.');
    assert.deepEqual(reply!.answers.map(rrText), [
      'www.example.org.prod.svc.cluster.local. 300 IN CNAME www.example.org.', 'www.example.org. 300 IN A 93.184.216.34',
    ]);
  });
});

describe('autopath with a fixed search path (resolv.conf)', () => {
  // CoreDNS's autopath_test.go: search example.org. example.com. com.
  let asked: string[];
  let chain: Handler;
  beforeEach(() => {
    asked = [];
    const answers = new Map<string, number>([['b.example.org.', Rcode.NXDOMAIN], ['b.com.', Rcode.NOERROR], ['a.example.com.', Rcode.NOERROR]]);
    const next: Handler = {
      name: 'next',
      async serveDNS(req, w) {
        asked.push(req.name);
        const rcode = answers.get(req.name);
        if (rcode === undefined) return Rcode.SERVFAIL;
        const m = replyTo(req.msg, rcode);
        if (rcode === Rcode.NOERROR) m.answers = [parseRR(`${req.qname} 3600 IN A 127.0.0.53`)];
        w.writeMsg(m);
        return rcode;
      },
    };
    const search: SearchPathFunc = () => withSentinel(['example.org.', 'example.com.', 'com.']);
    const ap = new AutopathHandler(['.'], search);
    chain = buildChain([(n) => ap.withNext(n), () => next])!;
  });

  it('expands b.example.org. to b.com. (SERVFAIL for b.example.com. is skipped)', async () => {
    const { reply } = await ask(chain, 'b.example.org.', 'A', '192.0.2.99');
    assert.deepEqual(reply!.answers.map(rrText), ['b.example.org. 3600 IN CNAME b.com.', 'b.com. 3600 IN A 127.0.0.53']);
    assert.deepEqual(asked, ['b.example.org.', 'b.example.com.', 'b.com.']);
  });

  it('passes a name that is not below the first search domain', async () => {
    const { reply } = await ask(chain, 'a.example.com.', 'A', '192.0.2.99');
    assert.deepEqual(reply!.answers.map(rrText), ['a.example.com. 3600 IN A 127.0.0.53']);
    assert.deepEqual(asked, ['a.example.com.']);
  });

  it('writes nothing when every try failed and the first was not written (the server answers SERVFAIL)', async () => {
    const { rcode, reply } = await ask(chain, 'c.example.org.', 'A', '192.0.2.99');
    assert.equal(rcode, Rcode.SERVFAIL);
    assert.equal(reply, undefined);
    assert.deepEqual(asked, ['c.example.org.', 'c.example.com.', 'c.com.', 'c.']);
  });

  it('leaves names outside its zones alone', async () => {
    const ap = new AutopathHandler(['example.net.'], () => withSentinel(['example.org.', 'example.com.', 'com.']));
    const only = buildChain([(n) => ap.withNext(n), () => ({ name: 'next', serveDNS: async (req: Request) => { asked.push(req.name); return Rcode.REFUSED; } })])!;
    const { rcode } = await ask(only, 'b.example.org.', 'A', '192.0.2.99');
    assert.equal(rcode, Rcode.REFUSED);
    assert.deepEqual(asked, ['b.example.org.']);
  });
});

describe('the CNAME', () => {
  it('is written before the answer, with the TTL of the record it points at', async () => {
    const s = kubeSetup();
    const { reply } = await ask(s.chain, 'web.prod.svc.cluster.local.prod.svc.cluster.local.');
    const [cname, a] = reply!.answers;
    assert.equal(cname?.type, RRType.CNAME);
    assert.equal(a?.type, RRType.A);
    assert.equal(cname?.ttl, a?.ttl);
  });
});
