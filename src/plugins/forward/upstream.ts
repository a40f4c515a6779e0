/**
 * One upstream server (CoreDNS's proxy.Proxy): its UDP and TCP sockets, its metrics and its health.
 *
 * Health, as CoreDNS does it (plugin/pkg/proxy/health.go, plugin/pkg/up): a failed exchange kicks
 * off a probe loop — a `. IN NS` query (or `health_check ... domain`) every health_check interval,
 * one probe in flight at most — that runs until a probe gets any reply. Each failed probe adds one
 * to `fails`, a reply resets it to 0. The upstream is down while fails > max_fails. Queries that
 * fail do not count themselves: only probes do. With max_fails 0 nothing is probed and the
 * upstream is never down.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { RRClass, RRType } from '../../dns/constants.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader } from '../../dns/message.js';
import { connCacheHits, connCacheMisses, healthcheckFailures, proxyHealthcheckFailures, proxyRequestDuration, rcodeLabel, requestDuration, requestsTotal, responsesTotal } from './metrics.js';
import { type Proto, TcpChannel, UdpChannel, UpstreamError } from './transport.js';
import { headerRcode, questionEnd } from './wire.js';

export interface UpstreamAddress {
  host: string;
  port: number;
}

export interface HealthOptions {
  /** Probe interval while the upstream is failing (health_check DURATION, default 500ms). */
  intervalMs: number;
  /** RD on probes (health_check ... no_rec clears it). */
  recursionDesired: boolean;
  /** Probe name (health_check ... domain FQDN), default ".". */
  domain: string;
  /** Probe over TCP (force_tcp), else UDP. */
  tcp: boolean;
}

export interface UpstreamOptions {
  /** Idle sockets and connections are closed after this long (expire, default 10s). */
  expireMs: number;
  health: HealthOptions;
  logger: Logger;
}

/** How long one probe waits for its reply (CoreDNS's health checker: 1s). */
const PROBE_TIMEOUT_MS = 1000;
/** The probe loop never spins faster than this, whatever health_check says. */
const MIN_PROBE_INTERVAL_MS = 10;
const PROXY_NAME = 'forward';

/** "host:port" as Go's net.JoinHostPort writes it: the `to` label and what logs show. */
export function joinHostPort(host: string, port: number): string {
  return net.isIPv6(host.replace(/%.*$/, '')) ? `[${host}]:${port}` : `${host}:${port}`;
}

export class Upstream {
  /** The `to` label: "10.0.0.1:53", "[2001:db8::1]:53". */
  readonly to: string;
  private readonly udp: UdpChannel;
  private readonly tcp: TcpChannel;
  private fails = 0;
  private probing = false;
  private stopped = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private wakeProbe: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly probeWire: Buffer;
  private readonly probeQEnd: number;

  constructor(readonly addr: UpstreamAddress, private readonly o: UpstreamOptions) {
    this.to = joinHostPort(addr.host, addr.port);
    const hooks = {
      reuse: (proto: Proto, reused: boolean) => (reused ? connCacheHits : connCacheMisses).inc({ proxy_name: PROXY_NAME, to: this.to, proto }),
    };
    this.udp = new UdpChannel(addr.host, addr.port, o.expireMs, hooks);
    this.tcp = new TcpChannel(addr.host, addr.port, o.expireMs, hooks);
    this.probeWire = encodeMessage({
      ...emptyHeader(0),
      rd: o.health.recursionDesired,
      questions: [{ name: o.health.domain, type: RRType.NS, class: RRClass.IN }],
      answers: [], authorities: [], additionals: [],
    });
    this.probeQEnd = questionEnd(this.probeWire)!;
  }

  /** Consecutive failed probes since the last reply to one. */
  get failCount(): number {
    return this.fails;
  }

  /** Down: more failed probes in a row than max_fails (never with max_fails 0). CoreDNS's Proxy.Down. */
  down(maxFails: number): boolean {
    return maxFails !== 0 && this.fails > maxFails;
  }

  /** Starts closing idle sockets. */
  start(): void {
    const every = Math.min(Math.max(this.o.expireMs, 1000), 10_000);
    this.sweeper = setInterval(() => {
      this.udp.sweep(this.o.expireMs);
      this.tcp.sweep(this.o.expireMs);
    }, every);
    this.sweeper.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.wakeProbe?.();
    this.udp.close();
    this.tcp.close();
  }

  /**
   * Sends a query (any ID; the question ends at qEnd) and resolves with the reply, which still
   * carries the ID it was sent under. Rejects with an UpstreamError. Counted in the forward
   * request/response metrics.
   */
  async exchange(query: Uint8Array, qEnd: number, proto: Proto, timeoutMs: number): Promise<Buffer> {
    if (this.stopped) throw new UpstreamError('stopped', 'upstream stopped');
    const start = process.hrtime.bigint();
    requestsTotal.inc({ to: this.to });
    let reply: Buffer;
    if (proto === 'udp') {
      reply = await this.udp.exchange(query, qEnd, timeoutMs);
    } else {
      try {
        reply = await this.tcp.exchange(query, qEnd, timeoutMs);
      } catch (err) {
        // The upstream closed a connection we had used before: try once more on a new one (CoreDNS retries ErrCachedClosed).
        if (!(err instanceof UpstreamError && err.kind === 'cached-closed')) throw err;
        const left = timeoutMs - Number(process.hrtime.bigint() - start) / 1e6;
        if (left <= 0) throw new UpstreamError('timeout', 'i/o timeout');
        reply = await this.tcp.exchangeFresh(query, qEnd, left);
      }
    }
    const rcode = rcodeLabel(headerRcode(reply));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    responsesTotal.inc({ rcode, to: this.to });
    requestDuration.observe({ to: this.to, rcode }, seconds);
    proxyRequestDuration.observe({ proxy_name: PROXY_NAME, to: this.to, rcode }, seconds);
    return reply;
  }

  /** Starts the probe loop unless one is running (CoreDNS's Proxy.Healthcheck / up.Probe.Do). */
  healthcheck(): void {
    if (this.probing || this.stopped) return;
    this.probing = true;
    void this.probeLoop();
  }

  private async probeLoop(): Promise<void> {
    try {
      while (!this.stopped) {
        if (await this.probe()) {
          if (this.fails > 0) this.o.logger.debug({ to: this.to }, `plugin/forward: upstream ${this.to} is healthy again`);
          this.fails = 0;
          return;
        }
        if (this.stopped) return;
        this.fails++;
        healthcheckFailures.inc({ to: this.to });
        proxyHealthcheckFailures.inc({ proxy_name: PROXY_NAME, to: this.to });
        await new Promise<void>((resolve) => {
          this.wakeProbe = resolve;
          this.probeTimer = setTimeout(resolve, Math.max(this.o.health.intervalMs, MIN_PROBE_INTERVAL_MS));
        });
        this.wakeProbe = undefined;
      }
    } finally {
      this.probing = false;
    }
  }

  /** One probe: any reply is healthy (REFUSED, SERVFAIL... included); I/O errors and timeouts are not. */
  private async probe(): Promise<boolean> {
    try {
      const ch = this.o.health.tcp ? this.tcp : this.udp;
      await ch.exchange(this.probeWire, this.probeQEnd, PROBE_TIMEOUT_MS);
      return true;
    } catch {
      return false;
    }
  }
}
