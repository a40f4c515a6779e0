/**
 * Closed-loop clients that count every query: sent, answered (and whether the answer was right),
 * refused, lost. For "loses no query" tests, with a precise meaning of lost:
 *
 * - UDP: each worker has its own connected socket and one query outstanding. A datagram that
 *   reaches a port nobody listens on comes back as ICMP port unreachable, which a connected socket
 *   reports as ECONNREFUSED: the client has *seen the listener close*, counts the query as refused
 *   and stops. A query with neither an answer nor a refusal within `timeoutMs` is lost.
 * - TCP: each worker keeps one connection and one query outstanding on it. A watcher tries a new
 *   connection every 20 ms; once one is refused the client has *seen the listener close*, and each
 *   worker stops after its outstanding answer. A connect that is refused or reset is a refusal; a
 *   query sent on an open connection that is closed or times out before its answer is lost.
 *
 * So lost = queries that reached the server before the client could know it was going away, and
 * were not answered. Every `Probe` check must pass too (wrong answers are counted separately).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { decodeMessage } from '../../src/dns/decode.js';
import { buildQuery } from '../support/dns-client.js';
import type { Probe } from '../fuzz/target.js';

export interface TransportCounts {
  sent: number;
  answered: number;
  refused: number;
  lost: string[];
  wrong: string[];
  /** Date.now() of the first refusal (the client saw the listener close). */
  firstRefusalAt: number | undefined;
}

export interface LoadResult {
  udp: TransportCounts;
  tcp: TransportCounts;
  /** Answers by probe name, and how many arrived after the first refusal of their transport. */
  answeredAfterClose: number;
  byName: Record<string, number>;
}

export interface LoadOptions {
  port: number;
  probes: Probe[];
  udpWorkers: number;
  tcpWorkers: number;
  timeoutMs?: number;
  /**
   * Accept an answer that passes any of these checks instead of the probe's own (a reload moves
   * an answer from one right value to another).
   */
  alternatives?: Record<string, Array<(m: ReturnType<typeof decodeMessage>) => string | undefined>>;
}

const counts = (): TransportCounts => ({ sent: 0, answered: 0, refused: 0, lost: [], wrong: [], firstRefusalAt: undefined });

export function startLoad(o: LoadOptions): { stop: () => Promise<LoadResult>; result: LoadResult; closed: Promise<void> } {
  const result: LoadResult = { udp: counts(), tcp: counts(), answeredAfterClose: 0, byName: {} };
  const timeoutMs = o.timeoutMs ?? 5000;
  let running = true;
  let tcpClosed = false;
  let seq = 0;
  const next = (): Probe => o.probes[seq++ % o.probes.length]!;

  const check = (c: TransportCounts, p: Probe, wire: Buffer, transport: string): void => {
    c.answered++;
    result.byName[p.name] = (result.byName[p.name] ?? 0) + 1;
    if (c.firstRefusalAt !== undefined) result.answeredAfterClose++;
    let m;
    try {
      m = decodeMessage(wire);
    } catch (err) {
      c.wrong.push(`${transport} ${p.name}: undecodable (${(err as Error).message})`);
      return;
    }
    const problems = [p.check(m), ...(o.alternatives?.[p.name] ?? []).map((f) => f(m))];
    if (problems.every((x) => x !== undefined)) c.wrong.push(`${transport} ${p.name}: ${problems[0]}`);
  };
  const refused = (c: TransportCounts): void => {
    c.refused++;
    c.firstRefusalAt ??= Date.now();
  };

  const udpWorker = async (w: number): Promise<void> => {
    const c = result.udp;
    const s = dgram.createSocket('udp4');
    let waiter: ((x: { reply?: Buffer; err?: Error }) => void) | undefined;
    s.on('message', (msg) => waiter?.({ reply: msg }));
    s.on('error', (err) => waiter?.({ err }));
    await new Promise<void>((r) => s.connect(o.port, '127.0.0.1', () => r()));
    let id = (w * 7919) & 0xffff;
    while (running) {
      const p = next();
      id = (id + 1) & 0xffff;
      const wire = buildQuery(p.name, p.type, { id, udpSize: 1232 });
      const outcome = await new Promise<{ reply?: Buffer; err?: Error; timeout?: true }>((resolve) => {
        const t = setTimeout(() => resolve({ timeout: true }), timeoutMs);
        waiter = (x) => {
          if (x.reply && (x.reply.length < 2 || x.reply.readUInt16BE(0) !== id)) return; // a late reply to an earlier query
          clearTimeout(t);
          waiter = undefined;
          resolve(x);
        };
        c.sent++;
        s.send(wire);
      });
      if (outcome.reply) check(c, p, outcome.reply, 'udp');
      else if (outcome.err && (outcome.err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
        refused(c);
        break;
      } else c.lost.push(`udp ${p.name} id ${id}: ${outcome.timeout ? `no answer in ${timeoutMs} ms` : outcome.err?.message} at ${new Date().toISOString()}`);
    }
    s.close();
  };

  const tcpWorker = async (): Promise<void> => {
    const c = result.tcp;
    let id = 0;
    while (running && !tcpClosed) {
      // One connection, queries one after another on it until the listener is seen closing.
      const sock = net.connect(o.port, '127.0.0.1');
      sock.setNoDelay(true);
      let buf = Buffer.alloc(0);
      let waiter: ((x: { reply?: Buffer; closed?: string }) => void) | undefined;
      let closedWhy: string | undefined;
      sock.on('data', (d) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          waiter?.({ reply: msg });
        }
      });
      sock.on('error', (err) => { closedWhy ??= (err as NodeJS.ErrnoException).code ?? err.message; });
      sock.on('close', () => {
        closedWhy ??= 'closed';
        waiter?.({ closed: closedWhy });
      });
      const connected = await new Promise<boolean>((resolve) => {
        sock.once('connect', () => resolve(true));
        sock.once('close', () => resolve(false));
      });
      if (!connected) {
        refused(c);
        tcpClosed = true;
        break;
      }
      while (running && !tcpClosed && !closedWhy) {
        const p = next();
        id = (id + 1) & 0xffff;
        const wire = buildQuery(p.name, p.type, { id, udpSize: 1232 });
        const head = Buffer.alloc(2);
        head.writeUInt16BE(wire.length);
        const outcome = await new Promise<{ reply?: Buffer; closed?: string; timeout?: true }>((resolve) => {
          const t = setTimeout(() => resolve({ timeout: true }), timeoutMs);
          waiter = (x) => {
            clearTimeout(t);
            waiter = undefined;
            resolve(x);
          };
          c.sent++;
          sock.write(Buffer.concat([head, wire]));
        });
        if (outcome.reply) check(c, p, outcome.reply, 'tcp');
        else c.lost.push(`tcp ${p.name} id ${id}: ${outcome.timeout ? `no answer in ${timeoutMs} ms` : `connection ${outcome.closed} before the answer`} at ${new Date().toISOString()}`);
      }
      sock.end();
      if (!closedWhy) await new Promise((r) => sock.once('close', r));
    }
  };

  // The TCP watcher: a fresh connection every 20 ms until one is refused.
  let watcherDone!: () => void;
  const closed = new Promise<void>((r) => { watcherDone = r; });
  const watcher = (async () => {
    while (running && !tcpClosed) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(o.port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
      if (!ok) {
        tcpClosed = true;
        result.tcp.firstRefusalAt ??= Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    watcherDone();
  })();

  const loops = [
    ...Array.from({ length: o.udpWorkers }, (_, w) => udpWorker(w)),
    ...Array.from({ length: o.tcpWorkers }, () => tcpWorker()),
    watcher,
  ];
  return {
    result,
    closed,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}

/** Resolves when every worker has stopped on its own (the listener closed under it). */
export async function untilAllStopped(load: { result: LoadResult }, o: LoadOptions, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    const r = load.result;
    if (r.udp.refused >= o.udpWorkers && r.tcp.firstRefusalAt !== undefined) return;
    await new Promise((res) => setTimeout(res, 20));
  }
}
