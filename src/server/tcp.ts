/**
 * TCP transport (RFC 7766): 2-byte length framing, several queries per connection, pipelined
 * answers written as they complete. Bounded so a slow or hostile client cannot exhaust us:
 * - at most `maxConnections`; at the cap the connection idle the longest is closed to admit the new one,
 *   so 1,000 slowloris sockets cannot lock other clients out;
 * - a connection with nothing in flight is closed after `idleTimeoutMs`;
 * - a frame that has started must complete within `readTimeoutMs`;
 * - at most `maxInFlight` queries per connection; reading pauses past that.
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

interface Conn {
  socket: net.Socket;
  lastActive: number;
  inFlight: number;
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
): { connections: () => number; closeAll: () => void } {
  const conns = new Set<Conn>();

  srv.on('connection', (socket) => {
    if (conns.size >= limits.maxConnections && !evictIdlest()) {
      socket.destroy(); // every connection is busy answering: refuse the newcomer rather than grow past the cap
      return;
    }
    const conn: Conn = { socket, lastActive: Date.now(), inFlight: 0 };
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
      if (conn.inFlight === 0) socket.destroy();
    });

    const armFrameTimer = (): void => {
      if (frameTimer || pending.length === 0) return;
      frameTimer = setTimeout(() => socket.destroy(), limits.readTimeoutMs);
      frameTimer.unref();
    };
    const clearFrameTimer = (): void => {
      if (frameTimer) clearTimeout(frameTimer);
      frameTimer = undefined;
    };

    socket.on('data', (chunk: Buffer) => {
      conn.lastActive = Date.now();
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const frame = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        clearFrameTimer();
        dispatch(Buffer.from(frame));
      }
      if (pending.length > 0) armFrameTimer();
      else clearFrameTimer();
    });
    socket.on('close', clearFrameTimer);

    function dispatch(frame: Buffer): void {
      conn.inFlight++;
      if (conn.inFlight >= limits.maxInFlight) socket.pause();
      current()
        .handle(frame, origin, (reply) => {
          if (socket.destroyed) return;
          const head = Buffer.allocUnsafe(2);
          head.writeUInt16BE(reply.length, 0);
          socket.cork();
          socket.write(head);
          socket.write(reply);
          socket.uncork();
        })
        .catch((err: unknown) => logger.error({ err }, 'tcp query failed'))
        .finally(() => {
          conn.inFlight--;
          conn.lastActive = Date.now();
          if (socket.isPaused() && conn.inFlight < limits.maxInFlight) socket.resume();
        });
    }
  });

  function evictIdlest(): boolean {
    let victim: Conn | undefined;
    for (const c of conns) {
      if (c.inFlight > 0) continue;
      if (!victim || c.lastActive < victim.lastActive) victim = c;
    }
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
  };
}
