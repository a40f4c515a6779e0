/**
 * wireFacts against classify.ts on the decoded reply, and the cache writer's pass-through: a wire
 * reply it lets through untouched must be byte for byte what the decode → cap → encode path sends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Opcode, Rcode, RRClass, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, replyTo, type Message, type ResourceRecord } from '../../dns/message.js';
import { instantiate, makeTemplate } from '../../dns/wire-template.js';
import { BaseWriter } from '../../server/base-writer.js';
import { Request } from '../../server/request.js';
import { cacheReplyType, minimalTtl, ReplyType } from './classify.js';
import { CacheWriter, DnsCache, type CacheConfig } from './handler.js';
import { wireFacts } from './wire-facts.js';

const Z = 'cluster.local.';
const a = (name: string, address: string, ttl: number): ResourceRecord => ({ name, type: RRType.A, class: RRClass.IN, ttl, address });
const soa = (ttl: number, minimum: number): ResourceRecord => ({
  name: Z, type: RRType.SOA, class: RRClass.IN, ttl, mname: `ns.dns.${Z}`, rname: `hostmaster.${Z}`, serial: 1700000000, refresh: 7200, retry: 1800, expire: 86400, minimum,
});
const srv = (name: string, target: string, ttl: number): ResourceRecord => ({ name, type: RRType.SRV, class: RRClass.IN, ttl, priority: 0, weight: 100, port: 80, target });
const ns = (name: string, target: string, ttl: number): ResourceRecord => ({ name, type: RRType.NS, class: RRClass.IN, ttl, target });

function query(name: string, type: number, o: { edns?: boolean; do?: boolean; ad?: boolean; opcode?: number } = {}): Message {
  return {
    ...emptyHeader(0x1234), rd: true, ad: o.ad ?? false, opcode: o.opcode ?? 0,
    questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
    ...(o.edns || o.do ? { edns: { udpSize: 1232, version: 0, do: o.do ?? false, options: [] } } : {}),
  };
}

function reply(q: Message, rcode: number, sections: { an?: ResourceRecord[]; ns?: ResourceRecord[]; ar?: ResourceRecord[] }): Message {
  const m = replyTo(q, rcode);
  m.aa = true;
  m.answers = sections.an ?? [];
  m.authorities = sections.ns ?? [];
  m.additionals = sections.ar ?? [];
  return m;
}

const svc = `web.demo.svc.${Z}`;
const cases: Array<{ what: string; m: Message }> = [
  { what: 'A', m: reply(query(svc, RRType.A), Rcode.NOERROR, { an: [a(svc, '10.96.0.10', 30)] }) },
  { what: 'A with OPT', m: { ...reply(query(svc, RRType.A), Rcode.NOERROR, { an: [a(svc, '10.96.0.10', 30)] }), edns: { udpSize: 1232, version: 0, do: false, options: [] } } },
  { what: 'headless A × 3, mixed TTLs', m: reply(query(svc, RRType.A), Rcode.NOERROR, { an: [a(svc, '10.0.0.1', 30), a(svc, '10.0.0.2', 5), a(svc, '10.0.0.3', 30)] }) },
  { what: 'SRV with additional A', m: reply(query(`_http._tcp.${svc}`, RRType.SRV), Rcode.NOERROR, { an: [srv(`_http._tcp.${svc}`, svc, 30)], ar: [a(svc, '10.96.0.10', 30)] }) },
  { what: 'NXDOMAIN with SOA', m: reply(query(`nx.demo.svc.${Z}`, RRType.A), Rcode.NXDOMAIN, { ns: [soa(30, 30)] }) },
  { what: 'NXDOMAIN, SOA minimum below its TTL', m: reply(query(`nx.demo.svc.${Z}`, RRType.A), Rcode.NXDOMAIN, { ns: [soa(30, 10)] }) },
  { what: 'NODATA', m: reply(query(svc, RRType.AAAA), Rcode.NOERROR, { ns: [soa(30, 30)] }) },
  { what: 'NXDOMAIN without SOA', m: reply(query(`nx.demo.svc.${Z}`, RRType.A), Rcode.NXDOMAIN, {}) },
  { what: 'SERVFAIL', m: reply(query(svc, RRType.A), Rcode.SERVFAIL, {}) },
  { what: 'REFUSED (other error)', m: reply(query(svc, RRType.A), Rcode.REFUSED, {}) },
  { what: 'NXDOMAIN with an answer (other error)', m: reply(query(svc, RRType.A), Rcode.NXDOMAIN, { an: [a(svc, '10.0.0.1', 30)] }) },
  { what: 'delegation', m: reply(query(`x.sub.${Z}`, RRType.A), Rcode.NOERROR, { ns: [ns(`sub.${Z}`, `ns1.sub.${Z}`, 300)], ar: [a(`ns1.sub.${Z}`, '192.0.2.1', 300)] }) },
  { what: 'NOTIFY', m: reply(query(Z, RRType.SOA, { opcode: Opcode.NOTIFY }), Rcode.NOERROR, {}) },
  { what: 'empty NOERROR', m: reply(query(svc, RRType.TXT), Rcode.NOERROR, {}) },
];

describe('cache/wire-facts', () => {
  for (const { what, m } of cases) {
    it(`reads ${what} as classify.ts does`, () => {
      const wire = encodeMessage(m);
      const f = wireFacts(wire);
      assert.ok(f, 'read');
      const d = decodeMessage(wire);
      const t = cacheReplyType(d, Date.now() / 1000);
      assert.equal(f.type, t);
      const rrs = [...d.answers, ...d.authorities, ...d.additionals];
      assert.equal(f.records, rrs.length);
      if (rrs.length > 0) {
        assert.equal(f.minTtl, Math.min(...rrs.map((r) => r.ttl)));
        assert.equal(f.maxTtl, Math.max(...rrs.map((r) => r.ttl)));
        const denial = t === ReplyType.NameError || t === ReplyType.NoData;
        if (denial || t === ReplyType.NoError) assert.equal(Math.min(3600, denial ? f.minDenialTtl : f.minTtl), minimalTtl(d, t, 3600));
      }
    });
  }

  it('leaves the shapes it does not read to the decoder', () => {
    const withSoa = reply(query(svc, RRType.A), Rcode.NOERROR, { an: [a(svc, '10.0.0.1', 30)], ns: [soa(30, 30)] });
    assert.equal(wireFacts(encodeMessage(withSoa)), undefined, 'NOERROR answer plus SOA: cacheReplyType follows the chain');
    const ext = { ...reply(query(svc, RRType.A), 16 + Rcode.NOERROR, {}), edns: { udpSize: 1232, version: 0, do: false, options: [] } };
    assert.equal(wireFacts(encodeMessage(ext)), undefined, 'extended rcode');
    const rrsig: ResourceRecord = { name: svc, type: RRType.RRSIG, class: RRClass.IN, ttl: 30, rdata: new Uint8Array(20), raw: true };
    assert.equal(wireFacts(encodeMessage(reply(query(svc, RRType.A), Rcode.NOERROR, { an: [a(svc, '10.0.0.1', 30), rrsig] }))), undefined, 'RRSIG');
    const wire = encodeMessage(cases[0]!.m);
    assert.equal(wireFacts(wire.subarray(0, wire.length - 1)), undefined, 'truncated record');
    assert.equal(wireFacts(Buffer.concat([wire, Buffer.from([0])])), undefined, 'trailing byte');
    assert.equal(wireFacts(wire.subarray(0, 11)), undefined, 'runt');
  });
});

function cacheConfig(): CacheConfig {
  return {
    zones: ['.'],
    success: { capacity: 9984, maxBytes: 9984 * 1024, maxTtl: 30, minTtl: 5 },
    denial: { capacity: 9984, maxBytes: 9984 * 1024, maxTtl: 30, minTtl: 5 },
    servfailTtl: 5,
    prefetch: { amount: 0, windowMs: 60_000, percentage: 10 },
    staleMs: 0,
    verifyStale: false,
    disableSuccess: [Z],
    disableDenial: [Z],
    keepTtl: false,
    server: 'dns://:wire-facts',
    logger: pino({ level: 'silent' }),
  };
}

/** What the client gets when `send` is the cache writer's reply for the query q. */
function through(cache: DnsCache, q: Message, write: (w: CacheWriter) => void): Buffer {
  const wire = encodeMessage(q);
  const req = new Request(decodeMessage(wire), { transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:wire-facts' }, wire);
  let out: Buffer | undefined;
  write(new CacheWriter(cache, req, 'key', new BaseWriter(req, (b) => { out = b; }), 'client'));
  assert.ok(out, 'a reply was sent');
  return out;
}

describe('cache writer: pass-through where nothing is cached', () => {
  const cache = new DnsCache(cacheConfig());
  const variants = [{}, { edns: true }, { do: true }, { ad: true }];
  for (const { what, m } of cases) {
    for (const v of variants) {
      it(`sends ${what} (${JSON.stringify(v)}) exactly as the decode path does`, () => {
        const q = query(m.questions[0]!.name, m.questions[0]!.type, { ...v, opcode: m.opcode });
        // The reply as the kubernetes plugin writes it: a template instantiated for this query.
        const template = makeTemplate({ ...m, id: 0, edns: undefined, rcode: m.rcode & 0x0f } as Message);
        const req = new Request(decodeMessage(encodeMessage(q)), { transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 53, server: 'x' }, encodeMessage(q));
        const wire = instantiate(template, req);
        const fast = through(cache, q, (w) => w.writeWire(wire));
        const slow = through(cache, q, (w) => w.writeMsg(decodeMessage(wire)));
        assert.deepEqual(decodeMessage(fast), decodeMessage(slow));
        assert.equal(fast.toString('hex'), slow.toString('hex'));
      });
    }
  }

  it('passes the very buffer on when nothing changes, and caps TTLs when something does', () => {
    const q = query(svc, RRType.A);
    const same = instantiate(makeTemplate(cases[0]!.m), { msg: q });
    assert.equal(through(cache, q, (w) => w.writeWire(same)), same, 'TTL 30 within [5, 30]: untouched');
    const long = instantiate(makeTemplate(reply(q, Rcode.NOERROR, { an: [a(svc, '10.96.0.10', 300)] })), { msg: q });
    const capped = through(cache, q, (w) => w.writeWire(long));
    assert.notEqual(capped, long);
    assert.deepEqual(decodeMessage(capped).answers.map((r) => r.ttl), [30]);
  });

  it('does not pass through where the cache may store the reply, or for another question', () => {
    const cfg = cacheConfig();
    const storing = new DnsCache({ ...cfg, disableDenial: [] });
    const q = query(svc, RRType.A);
    const wire = instantiate(makeTemplate(cases[0]!.m), { msg: q });
    assert.notEqual(through(storing, q, (w) => w.writeWire(wire)), wire, 'success cache on: decoded and stored');
    const other = query(`other.demo.svc.${Z}`, RRType.A);
    assert.notEqual(through(cache, other, (w) => w.writeWire(wire)), wire, 'mismatched question goes the decode path');
  });
});
