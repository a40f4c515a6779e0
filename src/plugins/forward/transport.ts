/**
 * The sockets to one upstream (CoreDNS's plugin/pkg/proxy persistent.go and connect.go, reshaped
 * for an event loop): queries are multiplexed over a few long-lived sockets instead of one
 * connection per query in flight.
 *
 * UDP: one connected socket takes queries until it has sent RETIRE_AFTER of them (or sat idle for
 * `expire`), then a fresh one (a new source port) takes over and the old one closes when its last
 * query settles. Connected sockets only receive datagrams from the upstream's address and report
 * ICMP port-unreachable as ECONNREFUSED, which fails the queries on that socket at once.
 *
 * TCP: up to MAX_TCP_CONNS connections; a query takes an idle connection, else a new one, else
 * pipelines on the least loaded (RFC 7766 6.2.1.1). Idle connections close after `expire`; a
 * connection that timed out a query takes no new ones.
 *
 * Every query gets an ID unused on its socket, from a CSPRNG. A reply is taken only when its ID and
 * its question match a query in flight on that socket (`isReplyTo`); anything else is ignored and
 * the query keeps waiting, so an off-path spoofer must guess the ID and the source port and echo
 * the question. Everything is bounded: sockets, connections and queries in flight per socket.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomFillSync } from 'node:crypto';
import { isReplyTo, withId } from './wire.js';

export type Proto = 'udp' | 'tcp';

/** Why an exchange with an upstream failed. */
export type UpstreamErrorKind =
  | 'timeout'
  /** A TCP connection that had already carried replies was closed by the upstream (CoreDNS ErrCachedClosed): worth one retry. */
  | 'cached-closed'
  | 'network'
  /** Too many queries in flight to this upstream: not the upstream's fault, no health check. */
  | 'busy'
  | 'stopped';

export class UpstreamError extends Error {
  constructor(readonly kind: UpstreamErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

/** A UDP socket is replaced (new source port) after this many queries. */
export const UDP_RETIRE_AFTER = 1000;
/** Queries in flight on one UDP socket / one TCP connection. */
export const UDP_MAX_PENDING_PER_SOCKET = 1024;
export const TCP_MAX_PENDING_PER_CONN = 64;
/** Sockets (current and retiring) and connections per upstream. */
export const UDP_MAX_SOCKETS = 8;
export const TCP_MAX_CONNS = 16;
const MAX_MESSAGE = 65535;

export interface ChannelHooks {
  /** A query went out on an existing socket (true) or needed a new one (false). */
  reuse(proto: Proto, reused: boolean): void;
}

interface Pending {
  /** The query as sent (with our ID); its question is what a reply must echo. */
  wire: Buffer;
  qEnd: number;
  resolve(reply: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** TCP: the connection had already carried a reply when this query was written to it. */
  reused: boolean;
}

// Query IDs come from a CSPRNG (Math.random's state can be recovered from its outputs).
const idPool = new Uint16Array(2048);
let idNext = idPool.length;
function randomId(): number {
  if (idNext === idPool.length) {
    randomFillSync(idPool);
    idNext = 0;
  }
  return idPool[idNext++]!;
}

function freeId(pending: ReadonlyMap<number, Pending>): number {
  for (;;) {
    const id = randomId();
    if (!pending.has(id)) return id;
  }
}

/** Something that carries queries to the upstream and matches replies to them. */
abstract class Carrier {
  readonly pending = new Map<number, Pending>();
  lastUsed = Date.now();
  /** Takes no new queries; closes once the last one settles. */
  retired = false;
  closed = false;
  private destroyed = false;

  protected abstract write(wire: Buffer, id: number): void;
  protected abstract destroy(): void;

  send(query: Uint8Array, qEnd: number, timeoutMs: number, reused: boolean): Promise<Buffer> {
    const id = freeId(this.pending);
    const wire = withId(query, id);
    this.lastUsed = Date.now();
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new UpstreamError('timeout', `i/o timeout after ${Math.round(timeoutMs)}ms`)), timeoutMs);
      this.pending.set(id, { wire, qEnd, resolve, reject, timer, reused });
      try {
        this.write(wire, id);
      } catch (err) {
        this.settle(id, new UpstreamError('network', (err as Error).message, { cause: err }));
      }
    });
  }

  /** A message from the upstream: settles the query it answers, or is ignored. */
  protected receive(msg: Buffer): boolean {
    if (msg.length < 12) return false;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p || !isReplyTo(msg, p.wire, p.qEnd)) return false; // late, spoofed or for another question
    this.settle(id, msg);
    return true;
  }

  protected settle(id: number, result: Buffer | Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    this.lastUsed = Date.now();
    if (result instanceof Error) {
      if (result instanceof UpstreamError && result.kind === 'timeout') this.onTimeout();
      p.reject(result);
    } else p.resolve(result);
    if (this.retired && this.pending.size === 0) this.close();
  }

  protected onTimeout(): void {}

  /** Fails every query in flight and closes. */
  protected failAll(err: (p: Pending) => Error): void {
    this.closed = true;
    for (const [id, p] of [...this.pending]) this.settle(id, err(p));
    this.close();
  }

  retire(): void {
    this.retired = true;
    if (this.pending.size === 0) this.close();
  }

  close(): void {
    if (this.pending.size > 0) {
      this.failAll(() => new UpstreamError('stopped', 'upstream transport stopped'));
      return;
    }
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    this.destroy();
  }

  idleFor(now: number): number {
    return this.pending.size === 0 ? now - this.lastUsed : 0;
  }
}

class UdpSocket extends Carrier {
  private readonly sock: dgram.Socket;
  private connected = false;
  private readonly queue: Buffer[] = [];
  uses = 0;

  constructor(host: string, port: number, private readonly onGone: (s: UdpSocket) => void) {
    super();
    this.sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    this.sock.on('message', (msg) => this.receive(msg));
    // ECONNREFUSED (ICMP port unreachable) and every other socket error fail what is in flight here.
    this.sock.on('error', (err) => this.failAll(() => new UpstreamError('network', `${(err as NodeJS.ErrnoException).syscall ?? 'udp'} ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
    this.sock.on('close', () => {
      this.closed = true;
      this.onGone(this);
    });
    this.sock.connect(port, host, () => {
      this.connected = true;
      for (const w of this.queue.splice(0)) this.sock.send(w);
    });
    this.sock.unref();
  }

  protected write(wire: Buffer): void {
    if (!this.connected) this.queue.push(wire);
    else this.sock.send(wire);
  }

  protected destroy(): void {
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

class TcpConn extends Carrier {
  private readonly sock: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  /** Replies received: a connection that carried one is a "cached" connection in CoreDNS's terms. */
  served = 0;

  constructor(host: string, port: number, private readonly onGone: (c: TcpConn) => void) {
    super();
    this.sock = net.connect({ host, port });
    this.sock.setNoDelay(true);
    this.sock.unref();
    this.sock.on('data', (d) => this.onData(d));
    this.sock.on('error', () => { /* 'close' follows and fails what is in flight */ });
    this.sock.on('close', () => {
      this.failAll((p) =>
        p.reused
          ? new UpstreamError('cached-closed', 'cached connection was closed by peer')
          : new UpstreamError('network', 'connection closed before the reply'));
      this.onGone(this);
    });
  }

  protected write(wire: Buffer): void {
    const frame = Buffer.allocUnsafe(2 + wire.length);
    frame.writeUInt16BE(wire.length, 0);
    wire.copy(frame, 2);
    this.sock.write(frame);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (this.buf.length < 2 + len) break;
      // A copy: the reply is patched in place later and must not share memory with the next frame.
      const msg = Buffer.from(this.buf.subarray(2, 2 + len));
      this.buf = this.buf.subarray(2 + len);
      if (this.receive(msg)) this.served++;
    }
    if (this.buf.length > 2 + MAX_MESSAGE) this.sock.destroy(); // cannot happen with a 16-bit length; belt and braces
  }

  /** A connection that let a query time out may be stuck: it takes no new queries. */
  protected onTimeout(): void {
    this.retired = true;
  }

  protected destroy(): void {
    this.sock.destroy();
  }
}

/** All sockets of one protocol to one upstream. */
export interface Channel {
  exchange(query: Uint8Array, qEnd: number, timeoutMs: number): Promise<Buffer>;
  /** Closes sockets idle for longer than `expireMs`. */
  sweep(expireMs: number): void;
  /** Fails everything in flight and closes every socket. */
  close(): void;
  /** Sockets or connections currently open (for tests and bounds). */
  readonly size: number;
}

export class UdpChannel implements Channel {
  private current: UdpSocket | undefined;
  private readonly all = new Set<UdpSocket>();

  constructor(private readonly host: string, private readonly port: number, private readonly expireMs: number, private readonly hooks: ChannelHooks) {}

  get size(): number {
    return this.all.size;
  }

  exchange(query: Uint8Array, qEnd: number, timeoutMs: number): Promise<Buffer> {
    const s = this.pick();
    if (!s) return Promise.reject(new UpstreamError('busy', 'too many queries in flight to this upstream'));
    s.uses++;
    return s.send(query, qEnd, timeoutMs, false);
  }

  private pick(): UdpSocket | undefined {
    const now = Date.now();
    const c = this.current;
    if (c && !c.retired && !c.closed && c.uses < UDP_RETIRE_AFTER && c.pending.size < UDP_MAX_PENDING_PER_SOCKET && c.idleFor(now) <= this.expireMs) {
      this.hooks.reuse('udp', true);
      return c;
    }
    if (c) {
      c.retire();
      this.current = undefined;
    }
    if (this.all.size < UDP_MAX_SOCKETS) {
      const s = new UdpSocket(this.host, this.port, (gone) => {
        this.all.delete(gone);
        if (this.current === gone) this.current = undefined;
      });
      this.all.add(s);
      this.current = s;
      this.hooks.reuse('udp', false);
      return s;
    }
    // At the socket bound: squeeze into a retiring socket that still has room.
    for (const s of this.all) {
      if (!s.closed && s.pending.size < UDP_MAX_PENDING_PER_SOCKET) {
        this.hooks.reuse('udp', true);
        return s;
      }
    }
    return undefined;
  }

  sweep(expireMs: number): void {
    const now = Date.now();
    for (const s of this.all) if (s.pending.size === 0 && s.idleFor(now) > expireMs) s.close();
  }

  close(): void {
    for (const s of [...this.all]) s.close();
    this.all.clear();
    this.current = undefined;
  }
}

export class TcpChannel implements Channel {
  private readonly conns = new Set<TcpConn>();

  constructor(private readonly host: string, private readonly port: number, private readonly expireMs: number, private readonly hooks: ChannelHooks) {}

  get size(): number {
    return this.conns.size;
  }

  exchange(query: Uint8Array, qEnd: number, timeoutMs: number): Promise<Buffer> {
    const c = this.pick();
    if (!c) return Promise.reject(new UpstreamError('busy', 'too many queries in flight to this upstream'));
    return c.send(query, qEnd, timeoutMs, c.served > 0);
  }

  /** Opens a connection that is not shared with earlier queries (the retry after a cached connection closed). */
  exchangeFresh(query: Uint8Array, qEnd: number, timeoutMs: number): Promise<Buffer> {
    if (this.conns.size >= TCP_MAX_CONNS) return this.exchange(query, qEnd, timeoutMs);
    this.hooks.reuse('tcp', false);
    return this.open().send(query, qEnd, timeoutMs, false);
  }

  private open(): TcpConn {
    const c = new TcpConn(this.host, this.port, (gone) => this.conns.delete(gone));
    this.conns.add(c);
    return c;
  }

  private pick(): TcpConn | undefined {
    const now = Date.now();
    let least: TcpConn | undefined;
    for (const c of this.conns) {
      if (c.retired || c.closed) continue;
      if (c.pending.size === 0) {
        if (c.idleFor(now) > this.expireMs) {
          c.close();
          continue;
        }
        this.hooks.reuse('tcp', true);
        return c;
      }
      if (c.pending.size < TCP_MAX_PENDING_PER_CONN && (!least || c.pending.size < least.pending.size)) least = c;
    }
    if (this.conns.size < TCP_MAX_CONNS) {
      this.hooks.reuse('tcp', false);
      return this.open();
    }
    if (least) this.hooks.reuse('tcp', true);
    return least;
  }

  sweep(expireMs: number): void {
    const now = Date.now();
    for (const c of this.conns) if (c.pending.size === 0 && c.idleFor(now) > expireMs) c.close();
  }

  close(): void {
    for (const c of [...this.conns]) c.close();
    this.conns.clear();
  }
}
