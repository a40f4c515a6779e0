/**
 * One DNS port: UDP and TCP, IPv4 and (where the host has it) IPv6. The dispatcher behind it can be
 * swapped atomically, which is how a reload hands over without closing sockets or dropping queries.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Logger } from 'pino';
import { ClusterDnsError, ErrorCodes } from '../errors.js';
import type { Dispatcher } from './dispatcher.js';
import { DEFAULT_TCP_LIMITS, bindTcp, serveTcp, type TcpLimits, type TcpServing } from './tcp.js';
import { bindUdp, serveUdp, type UdpServing } from './udp.js';

export interface ListenerOptions {
  port: number;
  /** Hosts to bind; default both wildcards. An IPv6 wildcard that the host cannot bind is skipped. */
  hosts?: string[];
  tcpLimits?: TcpLimits;
  recvBufferBytes?: number;
  logger: Logger;
}

export class PortListener {
  private dispatcher: Dispatcher;
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly tcpConns: TcpServing[] = [];
  private readonly udpServing: UdpServing[] = [];
  port = 0;

  private constructor(initial: Dispatcher) {
    this.dispatcher = initial;
  }

  /** Binds every socket for the port (port 0: the kernel picks one for UDPv4 and the rest use it). */
  static async open(initial: Dispatcher, opts: ListenerOptions): Promise<PortListener> {
    const l = new PortListener(initial);
    const hosts = opts.hosts ?? ['0.0.0.0', '::'];
    let port = opts.port;
    const server = () => `dns://:${l.port}`;
    const current = (): Dispatcher => l.dispatcher;
    try {
      for (const host of hosts) {
        const family = host.includes(':') ? 6 : 4;
        let u;
        // Only a port given to bind() survives connect/disconnect (UdpServing.stopReceiving).
        const locked = port !== 0;
        try {
          u = await bindUdp(family, host, port, opts.recvBufferBytes ?? 4 * 1024 * 1024);
        } catch (err) {
          if (family === 6 && isNoIpv6(err)) continue;
          throw err;
        }
        port = u.port;
        l.port = port;
        l.udp.push(u.socket);
        l.udpServing.push(serveUdp(u.socket, server(), current, opts.logger, locked));
        const t = await bindTcp(host, port, family);
        l.tcp.push(t);
        l.tcpConns.push(serveTcp(t, server(), current, opts.logger, opts.tcpLimits ?? DEFAULT_TCP_LIMITS));
      }
    } catch (err) {
      await l.close();
      const e = err as NodeJS.ErrnoException;
      throw new ClusterDnsError(ErrorCodes.BIND_FAILED, `listen udp/tcp :${opts.port}: ${e.code ?? ''} ${e.message}`.trim(), { cause: err });
    }
    return l;
  }

  swap(d: Dispatcher): void {
    this.dispatcher = d;
  }

  tcpConnections(): number {
    return this.tcpConns.reduce((n, c) => n + c.connections(), 0);
  }

  /**
   * Shutdown without losing a query that reached us. First no new TCP connection and no new
   * datagram (clients see the port close: connection refused, ICMP port unreachable); then
   * everything already received is answered: the datagrams the kernel had queued, the answers in
   * flight (a forwarded query may take seconds), and each TCP connection until its client stops
   * sending (it is ended after a short quiet, see TcpServing.drain). Everything is closed by
   * `deadlineMs` at the latest.
   */
  async drain(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    const tcpClosed = Promise.all(this.tcp.map((t) => new Promise<void>((r) => t.close(() => r()))));
    for (const c of this.tcpConns) c.drain();
    await Promise.all(this.udpServing.map((u) => u.stopReceiving()));
    // A flush opens the socket for a moment; a datagram that slips in then is read soon after. So
    // done means: nothing in flight, nothing read and nothing flushed for UDP_QUIET_MS.
    let lastFlush = Date.now();
    while (Date.now() < deadline) {
      for (const u of this.udpServing) if (u.flush()) lastFlush = Date.now();
      const quiet = Date.now() - lastFlush >= UDP_QUIET_MS && !this.udpServing.some((u) => u.busy(UDP_QUIET_MS));
      if (quiet && this.tcpConnections() === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const u of this.udpServing) u.close();
    for (const c of this.tcpConns) c.destroyAll();
    await tcpClosed;
  }

  /** Stops accepting and ends open TCP connections at once (a port a reload no longer serves). */
  async close(): Promise<void> {
    for (const s of this.udp) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
    for (const c of this.tcpConns) c.closeAll();
    await Promise.all(this.tcp.map((t) => new Promise<void>((r) => t.close(() => r()))));
  }
}

/** A UDP socket that stopped receiving is drained once no datagram came for this long. */
const UDP_QUIET_MS = 50;

function isNoIpv6(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EPROTONOSUPPORT';
}
