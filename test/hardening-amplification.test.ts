/**
 * Amplification: what an attacker who spoofs a victim's address can make us send.
 * - ANY (RFC 8482): without the `any` plugin, kubernetes, file and hosts answer NODATA (nothing but
 *   the SOA where they are authoritative), never every RRset at the name; forward relays the
 *   upstream's reply (as CoreDNS does), cut to the client's UDP size; with `any`, every zone gets one
 *   HINFO and the upstream is not even asked.
 * - Size: no UDP reply is larger than the requestor allows (512 without EDNS, the advertised size
 *   clamped to 512..1232 with it), whatever the name, the size asked, the plugin, a cache hit or an
 *   upstream that ignores the size; TC is set whenever records were left out, and TCP gets them all.
 * - Responses: no reply at all to a packet with QR set, over UDP or TCP.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRClass, RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import { encodeMessage } from '../src/dns/encode.js';
import type { Message, ResourceRecord } from '../src/dns/message.js';
import { buildQuery, query, sendTcpFrames, sendUdp } from './support/dns-client.js';
import { startTarget, type Target } from './fuzz/target.js';

/**
 * An upstream that ignores the requestor's size: every query gets its full RRset (ANY: every
 * record at the name, ~5 KB) over UDP and TCP alike. Counts the queries it saw.
 */
class OversizedUpstream {
  queries = 0;
  private constructor(readonly port: number, private readonly udp: dgram.Socket, private readonly tcp: net.Server) {}

  static records(name: string): ResourceRecord[] {
    const out: ResourceRecord[] = [];
    for (let i = 0; i < 100; i++) out.push({ name, class: RRClass.IN, ttl: 300, type: RRType.A, address: `198.51.100.${i + 1}` });
    for (let i = 0; i < 20; i++) out.push({ name, class: RRClass.IN, ttl: 300, type: RRType.TXT, strings: [`v=spf1 include:_spf${i}.example.net ~all and some padding to make it long`] });
    return out;
  }

  static async start(): Promise<OversizedUpstream> {
    const tcp = net.createServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(port, '127.0.0.1', () => r()));
    const up = new OversizedUpstream(port, udp, tcp);
    udp.on('message', (msg, ri) => {
      const out = up.answer(msg);
      if (out) udp.send(out, ri.port, ri.address);
    });
    tcp.on('connection', (c) => {
      let buf = Buffer.alloc(0);
      c.on('error', () => c.destroy());
      c.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const out = up.answer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (out) {
            const h = Buffer.alloc(2);
            h.writeUInt16BE(out.length);
            c.write(Buffer.concat([h, out]));
          }
        }
      });
    });
    return up;
  }

  private answer(wire: Buffer): Buffer | undefined {
    let q: Message;
    try {
      q = decodeMessage(wire);
    } catch {
      return undefined;
    }
    const question = q.questions[0];
    if (!question) return undefined;
    this.queries++;
    const all = OversizedUpstream.records(question.name);
    const answers = question.type === RRType.ANY ? all : all.filter((r) => r.type === question.type);
    return encodeMessage({ ...q, qr: true, aa: true, ra: true, answers, authorities: [], additionals: [], ...(q.edns ? { edns: { udpSize: 4096, version: 0, do: false, options: [] } } : {}) });
  }

  async stop(): Promise<void> {
    this.udp.close();
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

/** The largest UDP reply a query may get. */
const limit = (udpSize: number | undefined): number => (udpSize === undefined ? 512 : Math.min(Math.max(udpSize, 512), 1232));

describe('amplification', () => {
  let up: OversizedUpstream;
  let plain: Target;
  let withAny: Target;
  before(async () => {
    up = await OversizedUpstream.start();
    const fwd = (any: boolean) => (port: number) => `fwd.test:${port} {\n${any ? '    any\n' : ''}    cache 30\n    forward . 127.0.0.1:${up.port}\n}\n`;
    plain = await startTarget({ blocks: fwd(false) });
    withAny = await startTarget({ blocks: fwd(true), anyPlugin: true });
  });
  after(async () => {
    await plain?.srv.stop();
    await withAny?.srv.stop();
    await up?.stop();
  });

  it('answers ANY minimally without the any plugin: NODATA from kubernetes, file and hosts', async () => {
    const cases: Array<{ name: string; soa: string | undefined }> = [
      { name: 'web.demo.svc.cluster.local.', soa: 'cluster.local.' },
      { name: 'kubernetes.default.svc.cluster.local.', soa: 'cluster.local.' },
      // The apex holds SOA, 2 NS, A, AAAA, 2 MX, TXT and 2 CAA: none of them is sent.
      { name: 'example.org.', soa: 'example.org.' },
      { name: 'www.example.org.', soa: 'example.org.' },
      { name: 'www.hosts.test.', soa: undefined },
      { name: 'big.hosts.test.', soa: undefined },
    ];
    for (const c of cases) {
      for (const udpSize of [undefined, 4096]) {
        const m = await query(plain.port, c.name, RRType.ANY, udpSize === undefined ? {} : { udpSize });
        assert.equal(m.rcode, Rcode.NOERROR, c.name);
        assert.deepEqual(m.answers, [], `${c.name}: ANY must not list the RRsets`);
        assert.deepEqual(m.authorities.map((r) => `${r.name} ${r.type}`), c.soa ? [`${c.soa} ${RRType.SOA}`] : [], c.name);
        assert.ok(m.size < 200, `${c.name}: ${m.size} bytes`);
      }
    }
  });

  it('relays ANY through forward as CoreDNS does, but never more than the client takes over UDP', async () => {
    const before = up.queries;
    const ask = buildQuery('big.fwd.test.', RRType.ANY, { id: 77 });
    const noEdns = await sendUdp(plain.port, ask);
    assert.ok(noEdns.length <= 512, `${noEdns.length} bytes without EDNS`);
    const m = decodeMessage(noEdns);
    assert.equal(m.tc, true, 'cut, so TC');
    // The amplification factor an attacker gets without EDNS: at most 512 / query size.
    assert.ok(noEdns.length / ask.length < 512 / 28, `factor ${(noEdns.length / ask.length).toFixed(1)}`);
    const big = decodeMessage(await sendUdp(plain.port, buildQuery('big2.fwd.test.', RRType.ANY, { udpSize: 65535 })));
    assert.equal(big.tc, true);
    assert.ok(encodeMessage(big).length <= 1232);
    const tcp = await query(plain.port, 'big3.fwd.test.', RRType.ANY, { tcp: true });
    assert.equal(tcp.tc, false);
    assert.equal(tcp.answers.length, 120, 'TCP gets the upstream reply in full');
    assert.ok(up.queries > before);
  });

  it('answers ANY with one HINFO in every zone with the any plugin, without asking the upstream', async () => {
    const before = up.queries;
    for (const name of ['web.demo.svc.cluster.local.', 'example.org.', 'www.hosts.test.', 'me.test.', 'big.fwd.test.', 'nothere.demo.svc.cluster.local.']) {
      for (const tcp of [false, true]) {
        const m = await query(withAny.port, name, RRType.ANY, { tcp });
        assert.equal(m.rcode, Rcode.NOERROR, name);
        assert.equal(m.answers.length, 1, name);
        const h = m.answers[0]!;
        assert.equal(h.type, RRType.HINFO);
        assert.ok('cpu' in h && h.cpu === 'ANY obsoleted' && h.os === 'See RFC 8482', name);
        // 8482 as CoreDNS sends it; a block with `cache 30` caps it like any other TTL.
        assert.ok(h.ttl === 8482 || h.ttl <= 30, `ttl ${h.ttl}`);
      }
    }
    assert.equal(up.queries, before, 'the upstream was not asked');
    // Other types are untouched.
    const a = await query(withAny.port, 'www.example.org.', RRType.A);
    assert.deepEqual(a.answers.map((r) => ('address' in r ? r.address : '')), ['192.0.2.10']);
  });

  it('never sends a UDP reply larger than the requestor allows, for any name, size, plugin or cache state', async () => {
    const names: Array<[string, number]> = [
      ['big.hosts.test.', RRType.A], // 120 addresses (hosts)
      ['big.fwd.test.', RRType.A], // 100 addresses from an upstream that ignores the size (forward)
      ['big.fwd.test.', RRType.TXT],
      ['big.fwd.test.', RRType.ANY],
      ['example.org.', RRType.MX], // file, with additional addresses
      ['example.org.', RRType.NS],
      ['_http._tcp.web.demo.svc.cluster.local.', RRType.SRV], // kubernetes, pre-encoded answers
      ['db.demo.svc.cluster.local.', RRType.A],
      ['me.test.', RRType.A],
      ['nothere.example.org.', RRType.A],
    ];
    const sizes = [undefined, 0, 1, 100, 511, 512, 513, 700, 1000, 1231, 1232, 1233, 2048, 4096, 65535];
    let checked = 0;
    let truncated = 0;
    for (const [name, type] of names) {
      const full = await query(plain.port, name, type, { tcp: true, udpSize: 65535 });
      assert.equal(full.tc, false);
      const records = full.answers.length + full.authorities.length + full.additionals.length;
      // Twice: the second answer comes from the cache (or the kubernetes memo) instead of the plugin.
      for (const pass of [1, 2]) {
        for (const udpSize of sizes) {
          const wire = await sendUdp(plain.port, buildQuery(name, type, udpSize === undefined ? {} : { udpSize }));
          const max = limit(udpSize);
          assert.ok(wire.length <= max, `${name} ${type} size ${udpSize} pass ${pass}: ${wire.length} > ${max}`);
          const m = decodeMessage(wire);
          const got = m.answers.length + m.authorities.length + m.additionals.length;
          if (got < records) {
            assert.equal(m.tc, true, `${name} ${type} size ${udpSize}: ${got}/${records} records without TC`);
            truncated++;
          }
          assert.equal(m.edns !== undefined, udpSize !== undefined, 'OPT present exactly when asked, even when cut');
          checked++;
        }
      }
    }
    assert.ok(truncated > 50, `${truncated} truncated replies checked`);
    assert.equal(checked, names.length * sizes.length * 2);
  });

  it('never answers a packet with QR set, over UDP or TCP', async () => {
    const s = dgram.createSocket('udp4');
    let replies = 0;
    s.on('message', () => replies++);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    let sent = 0;
    for (const name of ['web.demo.svc.cluster.local.', 'www.example.org.', 'www.hosts.test.', 'me.test.', 'big.fwd.test.', 'outside.invalid.']) {
      for (const udpSize of [undefined, 4096]) {
        for (const flags of [0x80, 0x84, 0x85, 0x87, 0xf8]) {
          const wire = buildQuery(name, RRType.A, udpSize === undefined ? {} : { udpSize });
          wire[2] = wire[2]! | flags;
          wire[3] = sent & 0x0f; // any rcode
          for (const t of [plain, withAny]) {
            s.send(wire, t.port, '127.0.0.1');
            sent++;
          }
        }
      }
    }
    // A reply would come within milliseconds; wait well past that, then check the server still answers.
    await new Promise((r) => setTimeout(r, 500));
    s.close();
    assert.equal(replies, 0, `${replies} replies to ${sent} responses`);

    const response = buildQuery('www.example.org.', RRType.A, { id: 1 });
    response[2] = response[2]! | 0x80;
    const good = buildQuery('www.example.org.', RRType.A, { id: 2 });
    const frames = await sendTcpFrames(plain.port, [response, response, good], 1);
    assert.deepEqual(frames.map((f) => f.readUInt16BE(0)), [2]);
    // And nothing more arrives on that connection: collect for a while after the answer.
    const extra = await sendTcpFrames(plain.port, [response], 1, { timeoutMs: 400 }).then(() => 'a reply', () => 'none');
    assert.equal(extra, 'none');
  });
});
