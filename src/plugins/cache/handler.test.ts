/**
 * The cache handler with a fake next handler and the real bottom writer (so replies go through the
 * same encode/scrub step as on a socket), on a fake clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, replyTo, type Message, type ResourceRecord } from '../../dns/message.js';
import type { Handler } from '../../plugin/types.js';
import { BaseWriter } from '../../server/base-writer.js';
import { Request, type Transport } from '../../server/request.js';
import { DnsCache, type CacheConfig } from './handler.js';
import { cacheEntries, cacheEvictions, cacheHits, cacheMisses, cachePrefetches, cacheRequests, cacheServedStale, cacheDrops } from './metrics.js';

let serverSeq = 0;

interface Harness {
  cache: DnsCache;
  chain: Handler;
  clock: { t: number };
  calls: Request[];
  server: string;
  ask(name: string, type?: number, o?: QueryOpts): Promise<Message>;
}

interface QueryOpts {
  edns?: boolean;
  do?: boolean;
  cd?: boolean;
  ad?: boolean;
  transport?: Transport;
  /** A synthetic request (no wire bytes), as rewrite or internal resolution make. */
  noWire?: boolean;
}

type Answer = (req: Request) => Message | Buffer | number;

function a(name: string, address: string, ttl: number): ResourceRecord {
  return { name, type: RRType.A, class: RRClass.IN, ttl, address };
}
function soa(zone: string, ttl: number, minimum: number): ResourceRecord {
  return { name: zone, type: RRType.SOA, class: RRClass.IN, ttl, mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum };
}

function harness(answer: Answer, overrides: Partial<CacheConfig> = {}): Harness {
  const clock = { t: 1_000_000 };
  const server = `dns://:test${++serverSeq}`;
  const cfg: CacheConfig = {
    zones: ['.'],
    success: { capacity: 9984, maxBytes: 9984 * 1024, maxTtl: 3600, minTtl: 5 },
    denial: { capacity: 9984, maxBytes: 9984 * 1024, maxTtl: 1800, minTtl: 5 },
    servfailTtl: 5,
    prefetch: { amount: 0, windowMs: 60_000, percentage: 10 },
    staleMs: 0,
    verifyStale: false,
    disableSuccess: [],
    disableDenial: [],
    keepTtl: false,
    server,
    logger: pino({ level: 'silent' }),
    now: () => clock.t,
    ...overrides,
  };
  const cache = new DnsCache(cfg);
  const calls: Request[] = [];
  const next: Handler = {
    name: 'fake',
    async serveDNS(req, w) {
      calls.push(req);
      const r = answer(req);
      if (typeof r === 'number') return r;
      if (Buffer.isBuffer(r)) w.writeWire(r);
      else w.writeMsg(r);
      return Rcode.NOERROR;
    },
  };
  const chain = cache.withNext(next);
  return {
    cache, chain, clock, calls, server,
    async ask(name, type = RRType.A, o = {}) {
      const query: Message = {
        ...emptyHeader(Math.floor(Math.random() * 65536)),
        rd: true, cd: o.cd ?? false, ad: o.ad ?? false,
        questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
        ...(o.edns || o.do ? { edns: { udpSize: 1232, version: 0, do: o.do ?? false, options: [] } } : {}),
      };
      const wire = encodeMessage(query);
      const req = new Request(decodeMessage(wire), { transport: o.transport ?? 'udp', remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server }, o.noWire ? undefined : wire);
      let out: Buffer | undefined;
      const w = new BaseWriter(req, (b) => { out = b; });
      const rcode = await chain.serveDNS(req, w);
      if (!out) return { ...replyTo(req.msg, rcode), id: -1 };
      const m = decodeMessage(out);
      assert.equal(m.id, query.id, 'reply carries the query ID');
      return m;
    },
  };
}

const ttls = (m: Message): number[] => [...m.answers, ...m.authorities, ...m.additionals].map((r) => r.ttl);
const addrs = (m: Message): string[] => m.answers.map((r) => ('address' in r ? r.address : r.type === RRType.CNAME && 'target' in r ? `CNAME ${r.target}` : '?'));

async function value(metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }, labels: Record<string, string>): Promise<number> {
  const v = (await metric.get()).values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** An upstream that answers from a mutable address and TTL, like a backend whose data changes. */
function positive(state: { address: string; ttl: number }): Answer {
  return (req) => {
    const m = replyTo(req.msg);
    m.aa = true;
    m.answers.push(a(req.qname, state.address, state.ttl));
    return m;
  };
}

describe('cache: hits and misses', () => {
  it('answers a repeated question from the cache until the entry expires, counting down the TTL', async () => {
    const state = { address: '192.0.2.1', ttl: 30 };
    const h = harness(positive(state));
    const first = await h.ask('www.example.org.');
    assert.deepEqual(addrs(first), ['192.0.2.1']);
    assert.deepEqual(ttls(first), [30]);
    state.address = '192.0.2.2';
    h.clock.t += 2_000;
    const second = await h.ask('www.example.org.');
    assert.deepEqual(addrs(second), ['192.0.2.1'], 'served from the cache, not the backend');
    assert.deepEqual(ttls(second), [28], 'TTL counted down by the 2 s elapsed');
    h.clock.t += 999;
    assert.deepEqual(ttls(await h.ask('www.example.org.')), [28], 'whole seconds only');
    assert.equal(h.calls.length, 1);
    h.clock.t += 28_001;
    const third = await h.ask('www.example.org.');
    assert.deepEqual(addrs(third), ['192.0.2.2'], 'expired: asked the backend again');
    assert.equal(h.calls.length, 2);
    assert.equal(await value(cacheHits, { server: h.server, type: 'success' }), 2);
    assert.equal(await value(cacheMisses, { server: h.server }), 2);
    assert.equal(await value(cacheRequests, { server: h.server }), 4);
    assert.equal(await value(cacheEntries, { server: h.server, type: 'success' }), 1);
  });

  it('answers with the client\'s ID, question case and flags, AA set, OPT only when asked', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 60 }));
    await h.ask('www.example.org.');
    const hit = await h.ask('WwW.ExAmple.ORG.', RRType.A, { edns: true });
    assert.equal(h.calls.length, 1, 'the mixed-case name hits the lower-case entry');
    assert.equal(hit.questions[0]!.name, 'WwW.ExAmple.ORG.');
    assert.equal(hit.aa, true);
    assert.equal(hit.qr, true);
    assert.equal(hit.rd, true);
    assert.equal(hit.tc, false);
    assert.ok(hit.edns, 'OPT added for an EDNS query');
    assert.equal(hit.edns!.do, false);
    const plain = await h.ask('www.example.org.');
    assert.equal(plain.edns, undefined, 'no OPT without EDNS in the query');
  });

  it('answers a synthetic request (no wire bytes) from the cache as a message', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 60 }));
    await h.ask('syn.example.');
    h.clock.t += 5_000;
    const hit = await h.ask('SYN.example.', RRType.A, { noWire: true, edns: true });
    assert.equal(h.calls.length, 1);
    assert.deepEqual(addrs(hit), ['192.0.2.1']);
    assert.deepEqual(ttls(hit), [55]);
    assert.equal(hit.questions[0]!.name, 'SYN.example.');
    assert.equal(hit.aa, true);
    assert.ok(hit.edns);
  });

  it('keys on the DO and CD bits and on the type', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 60 }));
    await h.ask('x.example.');
    await h.ask('x.example.', RRType.A, { do: true });
    await h.ask('x.example.', RRType.A, { cd: true });
    await h.ask('x.example.', RRType.AAAA);
    assert.equal(h.calls.length, 4);
    await h.ask('x.example.', RRType.A, { do: true });
    assert.equal(h.calls.length, 4);
  });

  it('caps every TTL to the cache duration: the smallest record TTL within [MINTTL, TTL]', async () => {
    const h = harness((req) => {
      const m = replyTo(req.msg);
      m.answers.push(a(req.qname, '192.0.2.1', 300), a(req.qname, '192.0.2.2', 60));
      m.additionals.push(a('ns.example.', '192.0.2.53', 120));
      return m;
    }, { success: { capacity: 9984, maxBytes: 1 << 24, maxTtl: 30, minTtl: 5 } });
    assert.deepEqual(ttls(await h.ask('two.example.')), [30, 30, 30], 'max TTL 30 wins over 60');
    const low = harness(positive({ address: '192.0.2.1', ttl: 1 }));
    assert.deepEqual(ttls(await low.ask('low.example.')), [5], 'raised to the 5 s minimum');
  });

  it('does not cache a reply whose duration is 0 (MINTTL 0 and a TTL 0 record)', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 0 }), { success: { capacity: 9984, maxBytes: 1 << 24, maxTtl: 3600, minTtl: 0 } });
    await h.ask('zero.example.');
    await h.ask('zero.example.');
    assert.equal(h.calls.length, 2);
  });

  it('keepttl answers with the original TTL until the entry expires', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 30 }), { keepTtl: true });
    await h.ask('k.example.');
    h.clock.t += 10_000;
    assert.deepEqual(ttls(await h.ask('k.example.')), [30]);
    assert.equal(h.calls.length, 1);
  });

  it('caches a reply written as pre-encoded wire', async () => {
    const h = harness((req) => {
      const m = replyTo(req.msg);
      m.answers.push(a(req.qname, '192.0.2.7', 20));
      return encodeMessage(m);
    });
    const first = await h.ask('wire.example.');
    assert.deepEqual(addrs(first), ['192.0.2.7']);
    h.clock.t += 3_000;
    const hit = await h.ask('wire.example.');
    assert.deepEqual(ttls(hit), [17]);
    assert.equal(h.calls.length, 1);
  });

  it('only caches for its zones', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 60 }), { zones: ['example.org.'] });
    await h.ask('a.example.org.');
    await h.ask('a.example.org.');
    await h.ask('a.example.com.');
    await h.ask('a.example.com.');
    assert.equal(h.calls.length, 3);
  });

  it('does not cache truncated replies, other errors, or replies to another question (counted as drops)', async () => {
    const tc = harness((req) => ({ ...replyTo(req.msg), tc: true, answers: [a(req.qname, '192.0.2.1', 60)] }));
    await tc.ask('tc.example.');
    await tc.ask('tc.example.');
    assert.equal(tc.calls.length, 2);
    const refused = harness((req) => replyTo(req.msg, Rcode.REFUSED));
    await refused.ask('r.example.');
    await refused.ask('r.example.');
    assert.equal(refused.calls.length, 2);
    const other = harness((req) => ({ ...replyTo(req.msg), questions: [{ name: 'other.example.', type: RRType.A, class: RRClass.IN }], answers: [a('other.example.', '192.0.2.1', 60)] }));
    await other.ask('q.example.');
    await other.ask('q.example.');
    assert.equal(other.calls.length, 2);
    assert.equal(await value(cacheDrops, { server: other.server }), 2);
  });

  it('does not cache an SOA-less NOERROR whose CNAME chain does not reach the asked type', async () => {
    const h = harness((req) => {
      const m = replyTo(req.msg);
      m.answers.push({ name: req.qname, type: RRType.CNAME, class: RRClass.IN, ttl: 60, target: 'elsewhere.example.' });
      return m;
    });
    await h.ask('alias.example.');
    await h.ask('alias.example.');
    assert.equal(h.calls.length, 2);
  });

  it('leaves AD set only when the client asked for DNSSEC or set AD', async () => {
    const h = harness((req) => ({ ...replyTo(req.msg), ad: true, answers: [a(req.qname, '192.0.2.1', 60)] }));
    assert.equal((await h.ask('ad.example.')).ad, false);
    assert.equal((await h.ask('ad.example.')).ad, false, 'hit');
    assert.equal((await h.ask('ad.example.', RRType.A, { ad: true })).ad, true, 'hit, client set AD');
    assert.equal((await h.ask('ad.example.', RRType.A, { do: true })).ad, true, 'miss with DO');
  });
});

describe('cache: denial', () => {
  const nx = (soaTtl: number, minimum: number, withSoa = true): Answer => (req) => {
    const m = replyTo(req.msg, Rcode.NXDOMAIN);
    m.aa = true;
    if (withSoa) m.authorities.push(soa('example.', soaTtl, minimum));
    return m;
  };

  it('caches NXDOMAIN with an SOA for min(SOA TTL, SOA MINIMUM), in the denial cache', async () => {
    const h = harness(nx(300, 60));
    const first = await h.ask('gone.example.');
    assert.equal(first.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(ttls(first), [60]);
    h.clock.t += 59_000;
    const hit = await h.ask('gone.example.');
    assert.equal(hit.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(ttls(hit), [1]);
    assert.equal(h.calls.length, 1);
    assert.equal(await value(cacheHits, { server: h.server, type: 'denial' }), 1);
    assert.equal(await value(cacheEntries, { server: h.server, type: 'denial' }), 1);
    h.clock.t += 1_000;
    await h.ask('gone.example.');
    assert.equal(h.calls.length, 2);
  });

  it('caps denial at 1800 s by default and does not cache NXDOMAIN without an SOA', async () => {
    const h = harness(nx(86400, 86400));
    assert.deepEqual(ttls(await h.ask('gone.example.')), [1800]);
    const bare = harness(nx(0, 0, false));
    await bare.ask('gone.example.');
    await bare.ask('gone.example.');
    assert.equal(bare.calls.length, 2);
  });

  it('caches NODATA (NOERROR, SOA, no answer) as a denial', async () => {
    const h = harness((req) => ({ ...replyTo(req.msg), authorities: [soa('example.', 30, 30)] }));
    await h.ask('nodata.example.', RRType.AAAA);
    await h.ask('nodata.example.', RRType.AAAA);
    assert.equal(h.calls.length, 1);
    assert.equal(await value(cacheHits, { server: h.server, type: 'denial' }), 1);
  });

  it('caches a written SERVFAIL for `servfail` (5 s by default), and not at all with servfail 0', async () => {
    const h = harness((req) => replyTo(req.msg, Rcode.SERVFAIL));
    assert.equal((await h.ask('broken.example.')).rcode, Rcode.SERVFAIL);
    h.clock.t += 4_000;
    assert.equal((await h.ask('broken.example.')).rcode, Rcode.SERVFAIL);
    assert.equal(h.calls.length, 1);
    h.clock.t += 1_000;
    await h.ask('broken.example.');
    assert.equal(h.calls.length, 2);
    const off = harness((req) => replyTo(req.msg, Rcode.SERVFAIL), { servfailTtl: 0 });
    await off.ask('broken.example.');
    await off.ask('broken.example.');
    assert.equal(off.calls.length, 2);
  });

  it('does not cache a SERVFAIL the backend returns without writing (the server writes it)', async () => {
    const h = harness(() => Rcode.SERVFAIL);
    assert.equal((await h.ask('x.example.')).rcode, Rcode.SERVFAIL);
    await h.ask('x.example.');
    assert.equal(h.calls.length, 2);
  });
});

describe('cache: disable', () => {
  it('disable success ZONE skips the success cache there only; the denial cache still works', async () => {
    const h = harness((req) => (req.name.startsWith('nx') ? { ...replyTo(req.msg, Rcode.NXDOMAIN), authorities: [soa('cluster.local.', 30, 30)] } : { ...replyTo(req.msg), answers: [a(req.qname, '10.0.0.1', 30)] }), {
      disableSuccess: ['cluster.local.'],
    });
    await h.ask('svc.cluster.local.');
    await h.ask('svc.cluster.local.');
    assert.equal(h.calls.length, 2, 'success not cached in cluster.local.');
    await h.ask('nx.cluster.local.');
    await h.ask('nx.cluster.local.');
    assert.equal(h.calls.length, 3, 'denial still cached');
    await h.ask('www.example.org.');
    await h.ask('www.example.org.');
    assert.equal(h.calls.length, 4, 'success cached elsewhere');
  });

  it('disable denial ZONE skips the denial cache there (the kubeadm Corefile disables both for cluster.local)', async () => {
    const h = harness((req) => ({ ...replyTo(req.msg, Rcode.NXDOMAIN), authorities: [soa('cluster.local.', 30, 30)] }), {
      disableSuccess: ['cluster.local.'], disableDenial: ['cluster.local.'],
    });
    await h.ask('nx.cluster.local.');
    await h.ask('nx.cluster.local.');
    assert.equal(h.calls.length, 2);
  });
});

describe('cache: bounds', () => {
  it('evicts the least recently used entry at capacity, counting evictions', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 60 }), { success: { capacity: 3, maxBytes: 1 << 20, maxTtl: 3600, minTtl: 5 } });
    for (const n of ['a', 'b', 'c']) await h.ask(`${n}.example.`);
    await h.ask('a.example.'); // a is now the most recently used
    await h.ask('d.example.'); // evicts b
    assert.equal(h.cache.success.size, 3);
    assert.equal(h.calls.length, 4);
    await h.ask('a.example.');
    await h.ask('c.example.');
    assert.equal(h.calls.length, 4, 'a and c still cached');
    await h.ask('b.example.');
    assert.equal(h.calls.length, 5, 'b was evicted');
    assert.equal(await value(cacheEvictions, { server: h.server, type: 'success' }), 2);
    assert.equal(await value(cacheEntries, { server: h.server, type: 'success' }), 3);
  });

  it('keeps the bytes held under maxBytes however large the replies', async () => {
    const maxBytes = 8 * 1024;
    const h = harness((req) => {
      const m = replyTo(req.msg);
      for (let i = 1; i <= 60; i++) m.answers.push(a(req.qname, `10.0.${i}.1`, 60));
      return m;
    }, { success: { capacity: 9984, maxBytes, maxTtl: 3600, minTtl: 5 } });
    for (let i = 0; i < 50; i++) await h.ask(`big${i}.example.`, RRType.A, { transport: 'tcp' });
    assert.ok(h.cache.success.calculatedSize <= maxBytes, `${h.cache.success.calculatedSize} <= ${maxBytes}`);
    assert.ok(h.cache.success.size >= 1 && h.cache.success.size < 50, `${h.cache.success.size} entries`);
    assert.ok(await value(cacheEvictions, { server: h.server, type: 'success' }) > 0);
  });
});

describe('cache: prefetch and serve_stale', () => {
  it('prefetches a popular entry in the background when little of its TTL is left', async () => {
    const state = { address: '192.0.2.1', ttl: 100 };
    const h = harness(positive(state), { prefetch: { amount: 2, windowMs: 60_000, percentage: 10 } });
    await h.ask('hot.example.');
    h.clock.t += 50_000;
    await h.ask('hot.example.'); // hit 1, 50 s left: no prefetch
    assert.equal(h.calls.length, 1);
    state.address = '192.0.2.2';
    h.clock.t += 41_000;
    const hit = await h.ask('hot.example.'); // hit 2, 9 s left ≤ 10% of 100: prefetch
    assert.deepEqual(addrs(hit), ['192.0.2.1'], 'the client gets the cached answer');
    await new Promise((r) => setImmediate(r));
    assert.equal(h.calls.length, 2, 'one background fetch');
    assert.equal(h.calls[1]!.transport, 'tcp', 'prefetch asks as TCP so the answer is not truncated');
    assert.equal(await value(cachePrefetches, { server: h.server }), 1);
    const after = await h.ask('hot.example.');
    assert.deepEqual(addrs(after), ['192.0.2.2']);
    assert.deepEqual(ttls(after), [100]);
  });

  it('serve_stale (immediate) answers an expired entry with TTL 0 and refreshes it in the background', async () => {
    const state = { address: '192.0.2.1', ttl: 10 };
    const h = harness(positive(state), { staleMs: 3_600_000 });
    await h.ask('s.example.');
    state.address = '192.0.2.2';
    h.clock.t += 20_000;
    const stale = await h.ask('s.example.');
    assert.deepEqual(addrs(stale), ['192.0.2.1']);
    assert.deepEqual(ttls(stale), [0]);
    await new Promise((r) => setImmediate(r));
    assert.equal(h.calls.length, 2);
    assert.deepEqual(addrs(await h.ask('s.example.')), ['192.0.2.2']);
    assert.equal(await value(cacheServedStale, { server: h.server }), 1);
  });

  it('serve_stale stops after DURATION', async () => {
    const h = harness(positive({ address: '192.0.2.1', ttl: 10 }), { staleMs: 60_000 });
    await h.ask('s.example.');
    h.clock.t += 10_000 + 60_000;
    await h.ask('s.example.');
    assert.equal(h.calls.length, 2, 'asked the backend directly');
    assert.equal(await value(cacheServedStale, { server: h.server }), 0);
  });

  it('serve_stale verify asks the backend first and serves stale only when it fails', async () => {
    let mode: 'ok' | 'fail' = 'fail';
    const h = harness((req) => (mode === 'ok' ? { ...replyTo(req.msg), answers: [a(req.qname, '192.0.2.9', 10)] } : replyTo(req.msg, Rcode.SERVFAIL)), { staleMs: 3_600_000, verifyStale: true });
    mode = 'ok';
    await h.ask('v.example.');
    mode = 'fail';
    h.clock.t += 11_000;
    const stale = await h.ask('v.example.');
    assert.equal(stale.rcode, Rcode.NOERROR, 'the SERVFAIL was not passed on');
    assert.deepEqual(ttls(stale), [0]);
    assert.equal(h.calls.length, 2);
    mode = 'ok';
    const fresh = await h.ask('v.example.');
    assert.deepEqual(ttls(fresh), [10]);
    assert.equal(h.calls.length, 3);
  });
});
