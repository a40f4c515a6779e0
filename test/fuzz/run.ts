/**
 * The fuzz loop: hostile packets over UDP and hostile frame streams over TCP against a running
 * server, with a known-good query interleaved every `probeEvery` packets.
 *
 * What it checks, packet by packet:
 * - no reply to a packet with QR set or shorter than a header;
 * - every other UDP packet gets exactly the reply it may get: a well-formed DNS response
 *   (decodeMessage accepts it, QR set) no larger than the client's limit (512 bytes, or the OPT's
 *   size clamped to 1232), nothing more: no amplification past the requestor's size;
 * - on TCP, every valid query embedded in a hostile stream is answered on that connection;
 * - liveness: each probe (a valid query, UDP and TCP in turn) gets the right answer within
 *   `probeTimeoutMs`; a probe that does not is a stall.
 * The caller checks the process afterwards (still running, no panics counted, correct answers).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { decodeMessage } from '../../src/dns/decode.js';
import { buildQuery, sendTcp } from '../support/dns-client.js';
import { hostilePacket, hostileTcpStream, Rng, type FuzzPacket } from './packets.js';
import { PROBES } from './target.js';

export interface FuzzOptions {
  port: number;
  /** UDP datagrams to send. */
  udpPackets: number;
  /** TCP connections, each carrying `framesPerConnection` hostile frames. */
  tcpConnections: number;
  framesPerConnection: number;
  seed: number;
  /** A liveness probe every this many UDP packets. */
  probeEvery: number;
  probeTimeoutMs: number;
  /** Progress lines (long runs). */
  progress?: (line: string) => void;
}

export interface FuzzResult {
  udpSent: number;
  udpExpectingReply: number;
  udpReplies: number;
  tcpConnections: number;
  tcpFrames: number;
  tcpReplies: number;
  byKind: Record<string, number>;
  probes: number;
  probeFailures: string[];
  probeMaxMs: number;
  probeP99Ms: number;
  violations: string[];
  violationCount: number;
  durationMs: number;
}

const UDP_SOCKETS = 4;
/** Most UDP packets awaiting a reply at once: stays well inside the server's receive buffer. */
const WINDOW = 256;

export async function runFuzz(o: FuzzOptions): Promise<FuzzResult> {
  const t0 = Date.now();
  const rng = new Rng(o.seed);
  const r: FuzzResult = {
    udpSent: 0, udpExpectingReply: 0, udpReplies: 0, tcpConnections: 0, tcpFrames: 0, tcpReplies: 0, byKind: {},
    probes: 0, probeFailures: [], probeMaxMs: 0, probeP99Ms: 0, violations: [], violationCount: 0, durationMs: 0,
  };
  const violation = (s: string): void => {
    r.violationCount++;
    if (r.violations.length < 20) r.violations.push(s);
  };
  const latencies: number[] = [];

  // ---- probes ----
  let probing: Promise<void> | undefined;
  let probeN = 0;
  const probe = async (): Promise<void> => {
    const p = PROBES[probeN % PROBES.length]!;
    const tcp = probeN % 2 === 1;
    probeN++;
    r.probes++;
    const start = performance.now();
    try {
      const wire = buildQuery(p.name, p.type, { udpSize: 1232 });
      const reply = decodeMessage(tcp ? await sendTcp(o.port, wire, { timeoutMs: o.probeTimeoutMs }) : await probeUdp(o.port, wire, o.probeTimeoutMs, (late) => r.probeFailures.push(`udp probe ${p.name}: the reply came ${late} ms late`)));
      const bad = p.check(reply);
      if (bad) r.probeFailures.push(`${tcp ? 'tcp' : 'udp'} probe ${p.name}: wrong answer: ${bad}`);
    } catch (err) {
      r.probeFailures.push(`${tcp ? 'tcp' : 'udp'} probe ${p.name}: ${(err as Error).message} after ${Math.round(performance.now() - start)} ms (udp sent ${r.udpSent}, ${new Date().toISOString()})`);
    }
    const ms = performance.now() - start;
    latencies.push(ms);
    r.probeMaxMs = Math.max(r.probeMaxMs, ms);
  };

  // Warm up first (JIT, lazily built answers): the probes measure stalls under attack, not a cold start.
  for (let i = 0; i < 200; i++) {
    const p = PROBES[i % PROBES.length]!;
    const wire = buildQuery(p.name, p.type, { udpSize: 1232 });
    await (i % 4 === 3 ? sendTcp(o.port, wire) : probeUdp(o.port, wire, 2000, () => {}));
  }

  // ---- TCP: hostile streams, a few connections at a time, alongside the UDP flood ----
  const tcpRng = new Rng(o.seed ^ 0x5a5a5a5a);
  const tcpWorkers = Array.from({ length: Math.min(4, o.tcpConnections) }, async (_, w) => {
    for (let c = w; c < o.tcpConnections; c += 4) {
      await tcpConnection(o.port, tcpRng, o.framesPerConnection, r, violation);
    }
  });

  // ---- UDP ----
  const sockets: Array<{ s: dgram.Socket; slots: Array<FuzzPacket | undefined> }> = [];
  let outstanding = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < UDP_SOCKETS; i++) {
    const s = dgram.createSocket('udp4');
    const slots: Array<FuzzPacket | undefined> = new Array(65536);
    s.on('message', (msg) => {
      r.udpReplies++;
      if (msg.length < 2) return violation(`udp: a ${msg.length}-byte reply`);
      const id = msg.readUInt16BE(0);
      const p = slots[id];
      slots[id] = undefined;
      if (!p) return violation(`udp: a reply (id ${id}) to no packet awaiting one`);
      if (p.expectReply) outstanding--;
      if (!p.expectReply) return violation(`udp: a reply to a ${p.kind} packet that must be ignored: ${p.wire.toString('hex')}`);
      if (msg.length > p.maxUdp) violation(`udp: ${msg.length}-byte reply over the ${p.maxUdp}-byte limit to ${p.kind} ${p.wire.toString('hex')}`);
      if (msg.length >= 3 && (msg[2]! & 0x80) === 0) violation(`udp: reply without QR to ${p.kind}`);
      try {
        decodeMessage(msg);
      } catch (err) {
        violation(`udp: malformed reply (${(err as Error).message}) to ${p.kind} ${p.wire.toString('hex')}: ${msg.toString('hex')}`);
      }
      if (outstanding < WINDOW / 2) wake?.();
    });
    s.on('error', (err) => violation(`udp socket error: ${err.message}`));
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    // Room for a whole window of replies (a small reply still takes ~1 KB of socket buffer).
    s.setRecvBufferSize(4 * 1024 * 1024);
    sockets.push({ s, slots });
  }

  let nextId = 0;
  const BATCH = 32;
  let lastProgress = Date.now();
  while (r.udpSent < o.udpPackets) {
    for (let i = 0; i < BATCH && r.udpSent < o.udpPackets; i++) {
      const sock = sockets[r.udpSent % UDP_SOCKETS]!;
      const id = (nextId++ >> 2) & 0xffff;
      const p = hostilePacket(rng, id);
      // A packet whose mutation changed its ID is filed under the ID it carries.
      // Runts are not filed: their "ID" is random bytes. A reply to one shows as a reply too many.
      const carried = p.kind !== 'runt' && p.wire.length >= 2 ? p.wire.readUInt16BE(0) : -1;
      if (carried >= 0) {
        const old = sock.slots[carried];
        if (old?.expectReply) outstanding--; // never answered (should not happen; counted below)
        sock.slots[carried] = p;
      }
      if (p.expectReply) {
        outstanding++;
        r.udpExpectingReply++;
      }
      r.byKind[p.kind] = (r.byKind[p.kind] ?? 0) + 1;
      sock.s.send(p.wire, o.port, '127.0.0.1');
      r.udpSent++;
      if (r.udpSent % o.probeEvery === 0 && !probing) probing = probe().finally(() => { probing = undefined; });
    }
    if (outstanding >= WINDOW) {
      // Wait for the server to catch up; no progress at all for 5 s is a stall.
      const waitStart = Date.now();
      while (outstanding >= WINDOW && Date.now() - waitStart < 5000) {
        await new Promise<void>((res) => {
          const t = setTimeout(res, 100);
          wake = () => { clearTimeout(t); res(); };
        });
        wake = undefined;
      }
      if (outstanding >= WINDOW) {
        violation(`udp: ${outstanding} replies outstanding and none for 5 s after ${r.udpSent} packets`);
        outstanding = 0;
      }
    } else {
      await new Promise((res) => setImmediate(res));
    }
    if (o.progress && Date.now() - lastProgress > 10_000) {
      lastProgress = Date.now();
      o.progress(`udp ${r.udpSent}/${o.udpPackets} sent, ${r.udpReplies} replies, tcp ${r.tcpFrames} frames, ${r.probes} probes (max ${Math.round(r.probeMaxMs)} ms), ${Math.round(r.udpSent / ((Date.now() - t0) / 1000))} pkt/s`);
    }
  }
  await probing;
  await Promise.all(tcpWorkers);
  // Let the last replies arrive.
  const settleEnd = Date.now() + 2000;
  while (r.udpReplies < r.udpExpectingReply && Date.now() < settleEnd) await new Promise((res) => setTimeout(res, 20));
  for (const { s } of sockets) s.close();
  // Final probes: every known answer, over both transports.
  for (let i = 0; i < PROBES.length * 2; i++) await probe();
  const sorted = [...latencies].sort((a, b) => a - b);
  r.probeP99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
  r.durationMs = Date.now() - t0;
  return r;
}

async function tcpConnection(port: number, rng: Rng, frames: number, r: FuzzResult, violation: (s: string) => void): Promise<void> {
  const { chunks, frames: n, expectAnswers } = hostileTcpStream(rng, frames, rng.int(65536));
  r.tcpConnections++;
  r.tcpFrames += n;
  const want = new Set(expectAnswers);
  await new Promise<void>((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      violation(`tcp: ${want.size} of ${expectAnswers.length} valid queries unanswered after 10 s`);
      sock.destroy();
    }, 10_000);
    let written = false;
    const maybeEnd = (): void => {
      if (!written || want.size > 0) return;
      clearTimeout(timer);
      sock.end();
    };
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) return;
        if (!sock.write(c)) await new Promise((res) => sock.once('drain', res));
        if (rng.chance(0.05)) await new Promise((res) => setImmediate(res));
      }
      written = true;
      maybeEnd();
    });
    sock.on('data', (d) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        r.tcpReplies++;
        try {
          const m = decodeMessage(msg);
          if (!m.qr) violation('tcp: reply without QR');
          want.delete(m.id);
        } catch (err) {
          violation(`tcp: malformed reply (${(err as Error).message}): ${msg.toString('hex')}`);
        }
      }
      maybeEnd();
    });
    sock.on('error', (err) => {
      // The server may close a connection that sent garbage only after answering what was valid.
      if (want.size > 0) violation(`tcp: ${err.message} with ${want.size} valid queries unanswered`);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (want.size > 0) violation(`tcp: connection closed with ${want.size} of ${expectAnswers.length} valid queries unanswered`);
      want.clear();
      resolve();
    });
  });
}

/**
 * One UDP query; rejects after `timeoutMs`, but keeps listening a while longer so that a late
 * reply (a stall) can be told from a lost one.
 */
function probeUdp(port: number, wire: Buffer, timeoutMs: number, onLate: (ms: number) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const start = performance.now();
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      reject(new Error('udp probe timed out'));
    }, timeoutMs);
    const giveUp = setTimeout(() => s.close(), timeoutMs + 5000);
    s.on('message', (msg) => {
      if (msg.length < 2 || msg.readUInt16BE(0) !== wire.readUInt16BE(0)) return;
      clearTimeout(giveUp);
      s.close();
      if (timedOut) onLate(Math.round(performance.now() - start));
      else {
        clearTimeout(t);
        resolve(msg);
      }
    });
    s.send(wire, port, '127.0.0.1');
  });
}
