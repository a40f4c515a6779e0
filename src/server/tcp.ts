/**
 * TCP transport (RFC 7766): 2-byte length framing, several queries per connection, pipelined
 * answers written as they complete. Bounded so a slow or hostile client cannot exhaust us:
 * - at most `maxConnections`; at the cap the connection idle the longest is closed to admit the new one,
 *   so 1,000 slowloris sockets cannot lock other clients out (when none is idle, the one quiet the
 *   longest goes: 1,000 connections each holding a query to a slow upstream must not lock them out either);
 * - a connection with nothing in flight is closed after `idleTimeoutMs`;
 * - a frame that has started must complete within `readTimeoutMs`;
 * - at most `maxInFlight` queries per connection, and no new query while the answers already written
 *   wait for the client to read them: reading pauses past either, so a client that pipelines queries
 *   and never reads cannot make us buffer answers without end (it made the RSS grow by 2 GB in 15 s).
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatcher.js';
import type { RequestOrigin } from './request.js';

export interface TcpLimits {
  maxConnections: number;
  idleTimeoutMs: number;
  readTimeoutMs: number;
  maxInFlight: number;
}

export const DEFAULT_TCP_LIMITS: TcpLimits = { maxConnections: 1000, idleTimeoutMs: 10_000, readTimeoutMs: 3_000, maxInFlight: 64 };

/**
 * DEFAULT_TCP_LIMITS with overrides from CLUSTERDNS_TCP_MAX_CONNECTIONS, CLUSTERDNS_TCP_IDLE_TIMEOUT_MS,
 * CLUSTERDNS_TCP_READ_TIMEOUT_MS and CLUSTERDNS_TCP_MAX_IN_FLIGHT (positive integers; anything else
 * is ignored). Not a user setting (CoreDNS has none): the hardening tests use it to reach the
 * timeouts in well under their production values.
 */
export function tcpLimitsFromEnv(env: NodeJS.ProcessEnv): TcpLimits {
  const int = (name: string, dflt: number): number => {
    const v = env[name];
    return v !== undefined && /^[1-9]\d{0,8}$/.test(v) ? Number(v) : dflt;
  };
  const d = DEFAULT_TCP_LIMITS;
  return {
    maxConnections: int('CLUSTERDNS_TCP_MAX_CONNECTIONS', d.maxConnections),
    idleTimeoutMs: int('CLUSTERDNS_TCP_IDLE_TIMEOUT_MS', d.idleTimeoutMs),
    readTimeoutMs: int('CLUSTERDNS_TCP_READ_TIMEOUT_MS', d.readTimeoutMs),
    maxInFlight: int('CLUSTERDNS_TCP_MAX_IN_FLIGHT', d.maxInFlight),
  };
}

/** While draining, a connection quiet for this long with nothing in flight is ended (FIN). */
const DRAIN_IDLE_MS = 200;

export interface TcpServing {
  connections(): number;
  /** Ends every connection now (a port removed by a reload). */
  closeAll(): void;
  /**
   * Shutdown, after the listening socket has been closed: connections keep being served; each is
   * ended once it has nothing in flight and has been quiet for DRAIN_IDLE_MS (a client that stops
   * sending is answered in full first). `destroyAll` ends the stragglers at the deadline.
   */
  drain(): void;
  destroyAll(): void;
}

interface Conn {
  socket: net.Socket;
  lastActive: number;
  inFlight: number;
  /** Switches the connection to the drain idle timeout. */
  drain: () => void;
}

export async function bindTcp(host: string, port: number, family: 4 | 6): Promise<net.Server> {
  const srv = net.createServer({ noDelay: true, pauseOnConnect: false });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host, port, ipv6Only: family === 6, backlog: 1024 }, () => {
      srv.off('error', reject);
      resolve();
    });
  });
  return srv;
}

export function serveTcp(
  srv: net.Server,
  server: string,
  current: () => Dispatcher,
  logger: Logger,
  limits: TcpLimits = DEFAULT_TCP_LIMITS,
): TcpServing {
  const conns = new Set<Conn>();
  let draining = false;

  srv.on('connection', (socket) => {
    if (conns.size >= limits.maxConnections && !evictOne()) {
      socket.destroy();
      return;
    }
    const conn: Conn = { socket, lastActive: Date.now(), inFlight: 0, drain: () => undefined };
    conns.add(conn);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => conns.delete(conn));
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const origin: RequestOrigin = {
      transport: 'tcp',
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      localAddress: local.address,
      localPort: local.port,
      server,
    };

    let pending: Buffer = Buffer.alloc(0);
    let frameTimer: NodeJS.Timeout | undefined;
    socket.setTimeout(limits.idleTimeoutMs, () => {
      if (conn.inFlight !== 0) return;
      if (draining && pending.length === 0) socket.end();
      else socket.destroy();
    });
    conn.drain = () => socket.setTimeout(DRAIN_IDLE_MS);
    if (draining) conn.drain();

    const armFrameTimer = (): void => {
      if (frameTimer || pending.length === 0) return;
      frameTimer = setTimeout(() => socket.destroy(), limits.readTimeoutMs);
      frameTimer.unref();
    };
    const clearFrameTimer = (): void => {
      if (frameTimer) clearTimeout(frameTimer);
      frameTimer = undefined;
    };
    // No new query while either bound is reached; the complete frames already read wait in `pending`.
    const blocked = (): boolean => conn.inFlight >= limits.maxInFlight || socket.writableNeedDrain;

    let taking = false;
    const takeFrames = (): void => {
      if (taking) return; // a query answered synchronously settles inside the loop below
      taking = true;
      while (pending.length >= 2 && !blocked()) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const frame = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        clearFrameTimer();
        dispatch(Buffer.from(frame));
      }
      taking = false;
      // The read timeout is for a frame the client has not finished sending, not for ones we hold back.
      if (pending.length > 0 && (pending.length < 2 || pending.length < 2 + pending.readUInt16BE(0))) armFrameTimer();
      else clearFrameTimer();
      if (blocked()) socket.pause();
      else if (socket.isPaused()) socket.resume();
    };

    socket.on('data', (chunk: Buffer) => {
      conn.lastActive = Date.now();
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      takeFrames();
    });
    socket.on('drain', takeFrames);
    socket.on('close', clearFrameTimer);

    const settled = (): void => {
      conn.inFlight--;
      conn.lastActive = Date.now();
      if (!socket.destroyed) takeFrames();
    };
    function dispatch(frame: Buffer): void {
      conn.inFlight++;
      // answer() never throws or rejects (it logs); a promise only when the answer is still being worked on.
      const p: void | Promise<void> = current().answer(frame, origin, (reply) => {
        if (socket.destroyed) return;
        const head = Buffer.allocUnsafe(2);
        head.writeUInt16BE(reply.length, 0);
        socket.cork();
        socket.write(head);
        socket.write(reply);
        socket.uncork();
      });
      if (p) void p.then(settled);
      else settled();
    }
  });

  /** At the cap: close the connection idle the longest, else the one whose last activity is oldest. */
  function evictOne(): boolean {
    let idle: Conn | undefined;
    let busy: Conn | undefined;
    for (const c of conns) {
      if (c.inFlight === 0) {
        if (!idle || c.lastActive < idle.lastActive) idle = c;
      } else if (!busy || c.lastActive < busy.lastActive) busy = c;
    }
    const victim = idle ?? busy;
    if (!victim) return false;
    conns.delete(victim);
    victim.socket.destroy();
    return true;
  }

  return {
    connections: () => conns.size,
    closeAll: () => {
      for (const c of conns) c.socket.end();
    },
    drain: () => {
      draining = true;
      for (const c of conns) c.drain();
    },
    destroyAll: () => {
      for (const c of conns) c.socket.destroy();
    },
  };
}
