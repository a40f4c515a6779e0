/**
 * A flood of valid queries for distinct random names (every one a cache miss and, in our zones, an
 * NXDOMAIN), over UDP with a window of outstanding queries, for the memory-bound tests.
 */
import dgram from 'node:dgram';
import { Rcode, RRType } from '../../src/dns/constants.js';
import { randomName, Rng, validQuery } from './packets.js';

export interface FloodResult {
  sent: number;
  replies: number;
  /** Date.now() of every reply. */
  replyTimes: number[];
  byRcode: Record<string, number>;
  durationMs: number;
}

export async function flood(o: {
  port: number;
  queries: number;
  zones: string[];
  seed: number;
  /** Called every `every` queries (awaited: the flood pauses meanwhile). */
  checkpoint?: { every: number; fn: (sent: number) => Promise<void> };
  window?: number;
  /** Send at this many queries a second instead of keeping a window (for answers that take seconds). */
  rate?: number;
  /** How long to wait for the last replies (default 3 s). */
  settleMs?: number;
}): Promise<FloodResult> {
  const window = o.window ?? 256;
  const rng = new Rng(o.seed);
  // Several sockets: answers that all come at once (timeouts) must not overflow one receive buffer.
  const sockets: dgram.Socket[] = [];
  for (let i = 0; i < (o.rate !== undefined ? 8 : 1); i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.setRecvBufferSize(4 * 1024 * 1024);
    s.on('message', onReply);
    sockets.push(s);
  }
  const r: FloodResult = { sent: 0, replies: 0, replyTimes: [], byRcode: {}, durationMs: 0 };
  let outstanding = 0;
  let wake: (() => void) | undefined;
  function onReply(m: Buffer): void {
    r.replies++;
    r.replyTimes.push(Date.now());
    outstanding--;
    const rc = m.length >= 4 ? m[3]! & 0x0f : -1;
    const key = rc === Rcode.NXDOMAIN ? 'NXDOMAIN' : rc === Rcode.NOERROR ? 'NOERROR' : rc === Rcode.SERVFAIL ? 'SERVFAIL' : rc === Rcode.REFUSED ? 'REFUSED' : `rcode${rc}`;
    r.byRcode[key] = (r.byRcode[key] ?? 0) + 1;
    if (outstanding < window / 2) wake?.();
  }
  const t0 = Date.now();
  const settle = async (maxMs: number): Promise<void> => {
    const end = Date.now() + maxMs;
    while (outstanding > 0 && Date.now() < end) await new Promise((res) => setTimeout(res, 10));
    outstanding = Math.max(outstanding, 0);
  };
  while (r.sent < o.queries) {
    const zone = o.zones[r.sent % o.zones.length]!;
    // The index makes every name distinct; the random labels make them look like a real flood.
    const name = `f${r.sent}-${randomName(rng, zone)}`;
    sockets[r.sent % sockets.length]!.send(validQuery(r.sent & 0xffff, name, r.sent % 2 === 0 ? RRType.A : RRType.AAAA, 1, 1232), o.port, '127.0.0.1');
    r.sent++;
    outstanding++;
    if (o.rate !== undefined) {
      if (r.sent % 50 === 0) {
        const due = t0 + (r.sent / o.rate) * 1000;
        await new Promise((res) => setTimeout(res, Math.max(0, due - Date.now())));
      }
    } else if (outstanding >= window) {
      await new Promise<void>((res) => {
        const t = setTimeout(res, 200);
        wake = () => {
          clearTimeout(t);
          res();
        };
      });
      wake = undefined;
    }
    if (o.checkpoint && r.sent % o.checkpoint.every === 0) {
      await settle(2000);
      await o.checkpoint.fn(r.sent);
    }
  }
  await settle(o.settleMs ?? 3000);
  for (const s of sockets) s.close();
  r.durationMs = Date.now() - t0;
  return r;
}
