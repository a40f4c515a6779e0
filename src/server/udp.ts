/**
 * UDP transport: one socket per address family, every datagram handed to the current dispatcher.
 * The dispatcher can be swapped while serving (reload) without closing the socket.
 */
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatcher.js';
import type { RequestOrigin } from './request.js';

/**
 * dgram resolves the destination of every send() through dns.lookup (an isIP check and a nextTick
 * per packet, CODEC-NOTES: +25–35% qps without it). Our destinations are always IP literals taken
 * from the datagram we are answering, so answer synchronously.
 */
function literalLookup(
  hostname: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, hostname, hostname.includes(':') ? 6 : 4);
}

export interface UdpBinding {
  socket: dgram.Socket;
  port: number;
}

export async function bindUdp(family: 4 | 6, host: string, port: number, recvBufferBytes: number): Promise<UdpBinding> {
  const socket = dgram.createSocket({
    type: family === 4 ? 'udp4' : 'udp6',
    ipv6Only: family === 6,
    lookup: literalLookup as unknown as dgram.SocketOptions['lookup'],
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  try {
    // A larger receive buffer absorbs bursts (the kernel caps it at net.core.rmem_max).
    socket.setRecvBufferSize(recvBufferBytes);
  } catch {
    /* not fatal: the default buffer still works */
  }
  return { socket, port: socket.address().port };
}

/**
 * Shutdown without losing a datagram that reached us (see PortListener.drain). Closing a UDP socket
 * discards whatever the kernel queued for it, and a client cannot tell such a loss from a slow
 * answer. Instead the socket is first connected to itself: the kernel then delivers no new datagram
 * to it (senders get ICMP port unreachable, which a client sees as the port closing), while the
 * datagrams already queued stay readable. Replies are held meanwhile (a connected socket sends to
 * its peer only) and sent once the queue and the answers in flight are done, with the socket
 * disconnected for just that synchronous moment. This needs a port bound explicitly: disconnecting
 * a socket whose port the kernel chose gives it up.
 */
export interface UdpServing {
  /** Stops taking new datagrams (false: could not, the caller just waits and closes). */
  stopReceiving(): Promise<boolean>;
  /** Answers in flight, or a datagram read in the last `quietMs` (more may be queued behind it). */
  busy(quietMs: number): boolean;
  /** Sends the held replies; true when there were any (a datagram may have slipped in meanwhile). */
  flush(): boolean;
  close(): void;
}

export function serveUdp(
  socket: dgram.Socket,
  server: string,
  current: () => Dispatcher,
  logger: Logger,
  /** The port was given to bind() (not 0): the socket may be connected to itself at shutdown. */
  portLocked = true,
): UdpServing {
  const local = socket.address();
  /** Replies held while the socket is connected to itself (shutdown); undefined while serving. */
  let held: Array<{ reply: Buffer; port: number; address: string }> | undefined;
  let inFlight = 0;
  let lastMessage = 0;
  const settled = (): void => {
    inFlight--;
  };
  socket.on('message', (msg, rinfo) => {
    const origin: RequestOrigin = {
      transport: 'udp',
      remoteAddress: rinfo.address,
      remotePort: rinfo.port,
      localAddress: local.address,
      localPort: local.port,
      server,
    };
    if (held) lastMessage = Date.now();
    // answer() never throws or rejects (it logs), and returns a promise only for an asynchronous
    // answer. send() gets no callback: with one, Node schedules a process.nextTick per datagram to
    // call it, and a failed UDP send has no one to tell anyway.
    const p: void | Promise<void> = current().answer(msg, origin, (reply) => {
      if (held) held.push({ reply, port: rinfo.port, address: rinfo.address });
      else socket.send(reply, rinfo.port, rinfo.address);
    });
    if (p) {
      inFlight++;
      void p.then(settled);
    }
  });
  // A socket error (e.g. ICMP-induced) must never take the process down.
  socket.on('error', (err) => logger.warn({ err }, 'udp socket error'));

  const self = local.family === 'IPv6' ? '::1' : '127.0.0.1';
  const connectToSelf = (): Promise<boolean> =>
    new Promise((resolve) => {
      const onError = (): void => resolve(false);
      socket.once('error', onError);
      try {
        socket.connect(local.port, self, () => {
          socket.off('error', onError);
          resolve(true);
        });
      } catch {
        socket.off('error', onError);
        resolve(false);
      }
    });
  let connected = false;

  return {
    async stopReceiving() {
      held = [];
      lastMessage = Date.now();
      connected = portLocked && (await connectToSelf());
      return connected;
    },
    busy: (quietMs) => inFlight > 0 || Date.now() - lastMessage < quietMs,
    flush() {
      const out = held ?? [];
      if (out.length === 0) return false;
      held = [];
      // Synchronous from disconnect to connect: no datagram can be read in between, and one that
      // arrives in those microseconds is queued and read after, like any other.
      if (connected) socket.disconnect();
      for (const { reply, port, address } of out) socket.send(reply, port, address);
      if (connected) socket.connect(local.port, self);
      return true;
    },
    close() {
      held = undefined;
      try {
        socket.close();
      } catch {
        /* already closed */
      }
    },
  };
}
