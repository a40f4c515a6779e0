/**
 * forward (CoreDNS plugin/forward/forward.go): relays queries for FROM (minus `except`) to the
 * upstreams and the reply back, untouched but for the client's ID and question case.
 *
 * For one query, as CoreDNS's ServeDNS:
 * - upstreams are tried in the policy's order; one that is down (see upstream.ts) is skipped, and
 *   when all are down one is picked at random anyway (coredns_forward_healthcheck_broken_total),
 *   or SERVFAIL straight away with failfast_all_unhealthy_upstreams;
 * - an exchange that fails (timeout after read_timeout, 2s by default; connection refused...)
 *   starts that upstream's health probe and moves to the next upstream, going round the list again
 *   until max_connect_attempts exchanges (2 × upstreams by default) have failed or 5s have passed
 *   since the query arrived; then SERVFAIL. Unlike CoreDNS an exchange never waits past that 5s
 *   deadline;
 * - the upstream is asked over the client's transport, TCP with force_tcp, UDP with prefer_udp; a
 *   truncated reply is relayed as is (the client retries over TCP) except with prefer_udp, where it
 *   is asked again over TCP;
 * - `failover RCODE...` tries the next upstream on those rcodes; `next RCODE...` and
 *   `next_on_nodata` hand the query to the next forward directive of the block.
 * - max_concurrent: past it the query is REFUSED and counted.
 * The reply is not re-encoded: the server's base writer fits it to the client (TC) when needed.
 */
import type { Logger } from 'pino';
import { Rcode, RRClass, typeToString } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, type Message } from '../../dns/message.js';
import { canonicalName, isSubdomain } from '../../dns/names.js';
import { isClientWrite, nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { healthcheckBroken, maxConcurrentRejects } from './metrics.js';
import type { Policy } from './policy.js';
import { type Proto, UpstreamError } from './transport.js';
import type { Upstream } from './upstream.js';
import { answerCount, headerRcode, isTruncated, questionEnd, restoreClientView } from './wire.js';

/** The whole budget for one query, every attempt included (CoreDNS's defaultTimeout). */
export const QUERY_DEADLINE_MS = 5000;

export interface ForwardConfig {
  /** Canonical FROM zone. */
  from: string;
  /** Canonical `except` zones. */
  ignored: string[];
  upstreams: Upstream[];
  policy: Policy;
  maxFails: number;
  forceTcp: boolean;
  preferUdp: boolean;
  /** 0: unlimited. */
  maxConcurrent: number;
  /** Per-exchange wait (read_timeout), default 2000. */
  readTimeoutMs: number;
  /** Failed exchanges per query before SERVFAIL; undefined: 2 × upstreams; 0: no cap. */
  maxConnectAttempts: number | undefined;
  failfastAllUnhealthy: boolean;
  /** `next RCODE...`: hand these to the next forward directive. */
  nextRcodes: number[];
  nextOnNodata: boolean;
  /** `failover RCODE...`: try the next upstream on these. */
  failoverRcodes: number[];
  logger: Logger;
}

type Outcome = { reply: Buffer } | { error: Error };

/** How often (ms) a failing forwarder logs; the rest are counted in the next line. */
const LOG_EVERY_MS = 1000;

export class Forwarder {
  private concurrent = 0;
  private lastLog = 0;
  private suppressed = 0;

  constructor(readonly cfg: ForwardConfig) {}

  /** True when this forwarder handles the name: under FROM and not under an `except` zone (FROM itself always). */
  matches(name: string): boolean {
    const { from, ignored } = this.cfg;
    if (!isSubdomain(name, from)) return false;
    if (name === from) return true;
    for (const z of ignored) if (isSubdomain(name, z)) return false;
    return true;
  }

  /**
   * The handler. `nextForward` is the next forward directive of the same block, if that is what
   * follows in the chain (`next` and `next_on_nodata` only ever hand over to a forwarder).
   */
  handler(next: Handler | undefined, nextForward: Handler | undefined): Handler {
    return { name: 'forward', serveDNS: (req, w) => this.serve(req, w, next, nextForward) };
  }

  private async serve(req: Request, w: ResponseWriter, next: Handler | undefined, nextForward: Handler | undefined): Promise<number> {
    if (!this.matches(req.name)) return nextOrFailure('forward', next, req, w);
    const q = queryWire(req);
    if (!q) return Rcode.FORMERR;
    const proto: Proto = this.cfg.forceTcp ? 'tcp' : this.cfg.preferUdp ? 'udp' : req.transport;
    const out = await this.limited(() => this.forward(q.wire, q.qEnd, proto));
    if (out === undefined) return Rcode.REFUSED;
    if ('error' in out) {
      this.logFailure(req, out.error);
      return Rcode.SERVFAIL;
    }
    const { reply } = out;
    const rcode = headerRcode(reply);
    if (nextForward) {
      if (this.cfg.nextRcodes.includes(rcode)) return nextForward.serveDNS(req, w);
      if (this.cfg.nextOnNodata && rcode === Rcode.NOERROR && answerCount(reply) === 0) return nextForward.serveDNS(req, w);
    }
    restoreClientView(reply, q.wire, q.qEnd, req.id);
    w.writeWire(reply);
    return isClientWrite(rcode) ? rcode : Rcode.NOERROR;
  }

  /**
   * Resolves a name through this forwarder's upstreams (UDP, then TCP when the reply is truncated),
   * for other plugins (the kubernetes plugin chasing an ExternalName's CNAME target). Resolves with
   * the upstream's reply whatever its rcode; rejects when no upstream answered in time or
   * max_concurrent is reached.
   */
  async query(name: string, type: number): Promise<Message> {
    const absolute = canonicalName(name) === name.toLowerCase() ? name : `${name}.`;
    const msg: Message = {
      ...emptyHeader(0), rd: true,
      questions: [{ name: absolute, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
      edns: { udpSize: 1232, version: 0, do: false, options: [] },
    };
    const wire = encodeMessage(msg);
    const qEnd = questionEnd(wire);
    if (qEnd === undefined) throw new Error(`plugin/forward: cannot build a query for ${name}`);
    const run = async (): Promise<Outcome> => {
      const first = await this.forward(wire, qEnd, this.cfg.forceTcp ? 'tcp' : 'udp');
      if ('reply' in first && isTruncated(first.reply) && !this.cfg.forceTcp) return this.forward(wire, qEnd, 'tcp');
      return first;
    };
    const out = await this.limited(run);
    if (out === undefined) throw new Error('plugin/forward: concurrent queries exceeded maximum');
    if ('error' in out) throw out.error;
    return decodeMessage(out.reply);
  }

  /** Runs `fn` within max_concurrent; undefined (and counted) when over it. */
  private async limited<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const max = this.cfg.maxConcurrent;
    if (max > 0 && this.concurrent >= max) {
      maxConcurrentRejects.inc();
      return undefined;
    }
    this.concurrent++;
    try {
      return await fn();
    } finally {
      this.concurrent--;
    }
  }

  /** The upstream loop of CoreDNS's Forward.ServeDNS. */
  private async forward(wire: Uint8Array, qEnd: number, baseProto: Proto): Promise<Outcome> {
    const c = this.cfg;
    const all = c.upstreams;
    const list = c.policy.list(all);
    const deadline = Date.now() + QUERY_DEADLINE_MS;
    const maxAttempts = c.maxConnectAttempts ?? 2 * list.length;
    let i = 0;
    let downSkipped = 0;
    let attempts = 0;
    let failovers = 0;
    let lastError: Error | undefined;
    while (Date.now() < deadline && (maxAttempts === 0 || attempts < maxAttempts)) {
      if (i >= list.length) {
        i = 0;
        downSkipped = 0;
      }
      let up = list[i++]!;
      if (up.down(c.maxFails)) {
        downSkipped++;
        if (downSkipped < all.length) continue;
        // Every upstream is down: assume health checking itself is broken and pick one at random.
        healthcheckBroken.inc();
        if (c.failfastAllUnhealthy) break;
        up = all[Math.floor(Math.random() * all.length)]!;
      }
      let proto = baseProto;
      let reply: Buffer;
      try {
        for (;;) {
          const left = deadline - Date.now();
          if (left <= 0) throw new UpstreamError('timeout', 'query deadline passed');
          reply = await up.exchange(wire, qEnd, proto, Math.min(c.readTimeoutMs, left));
          // prefer_udp: a truncated UDP reply is asked again over TCP.
          if (proto === 'udp' && c.preferUdp && !c.forceTcp && isTruncated(reply)) {
            proto = 'tcp';
            continue;
          }
          break;
        }
      } catch (err) {
        lastError = err as Error;
        const busy = err instanceof UpstreamError && (err.kind === 'busy' || err.kind === 'stopped');
        if (c.maxFails !== 0 && !busy) up.healthcheck();
        attempts++;
        if (maxAttempts > 0 && attempts >= maxAttempts) break;
        if (downSkipped < all.length) continue;
        break;
      }
      if (c.failoverRcodes.includes(headerRcode(reply))) {
        failovers++;
        if (failovers < all.length) continue;
      }
      return { reply };
    }
    return { error: lastError ?? new Error('no healthy proxies') };
  }

  private logFailure(req: Request, err: Error): void {
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed > 0 ? ` (and ${this.suppressed} more failures)` : '';
    this.lastLog = now;
    this.suppressed = 0;
    this.cfg.logger.warn({ err: err.message, name: req.qname, qtype: req.qtype }, `[ERROR] plugin/forward: ${req.qname} ${typeToString(req.qtype)}: ${err.message}${more}`);
  }

  start(): void {
    for (const u of this.cfg.upstreams) u.start();
  }

  stop(): void {
    for (const u of this.cfg.upstreams) u.stop();
  }
}

/** The query to relay: the client's bytes when it came off the wire, else encoded; with where its question ends. */
function queryWire(req: Request): { wire: Uint8Array; qEnd: number } | undefined {
  if (req.wire) {
    const qEnd = questionEnd(req.wire);
    if (qEnd !== undefined) return { wire: req.wire, qEnd };
  }
  try {
    const wire = encodeMessage(req.msg);
    const qEnd = questionEnd(wire);
    return qEnd === undefined ? undefined : { wire, qEnd };
  } catch {
    return undefined;
  }
}
