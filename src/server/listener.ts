/**
 * One DNS port: UDP and TCP, IPv4 and (where the host has it) IPv6. The dispatcher behind it can be
 * swapped atomically, which is how a reload hands over without closing sockets or dropping queries.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Logger } from 'pino';
import { ClusterDnsError, ErrorCodes } from '../errors.js';
import type { Dispatcher } from './dispatcher.js';
import { DEFAULT_TCP_LIMITS, bindTcp, serveTcp, type TcpLimits } from './tcp.js';
import { bindUdp, serveUdp } from './udp.js';

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
  private readonly tcpConns: Array<{ connections: () => number; closeAll: () => void }> = [];
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
        try {
          u = await bindUdp(family, host, port, opts.recvBufferBytes ?? 4 * 1024 * 1024);
        } catch (err) {
          if (family === 6 && isNoIpv6(err)) continue;
          throw err;
        }
        port = u.port;
        l.port = port;
        l.udp.push(u.socket);
        serveUdp(u.socket, server(), current, opts.logger);
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

  /** Stops accepting; open TCP connections are ended after their in-flight answers. */
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

function isNoIpv6(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EPROTONOSUPPORT';
}
