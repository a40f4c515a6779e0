/**
 * UDP transport: one socket per address family, every datagram handed to the current dispatcher.
 * The dispatcher can be swapped while serving (reload) without closing the socket.
 *
 * Node's dgram creates and binds the socket (bind errors, IPv6-only, node:cluster's shared handle
 * with -workers N). It is then served one of two ways:
 *   - batched (the default when build/Release/udp_batch.node is built, see udp-batch.ts): the
 *     addon reads up to 64 datagrams a system call and calls us once per batch; the replies
 *     written during that call leave in one sendmmsg. dgram's per-datagram recvmsg + sendmsg path
 *     was 57% of the time spent on a query at saturation (bench/README.md).
 *   - dgram: a 'message' event and a send() per datagram. When the addon is not built (no
 *     compiler, not Linux), or with CLUSTERDNS_UDP_BATCH=0 in the environment (to compare the two).
 * Both hand datagrams to the dispatcher through udpRequests() (the same RequestOrigin, the same
 * in-flight and drain bookkeeping); the batched path drops a datagram longer than its 4 KB slot
 * unread (no query is that long), and the two send their replies differently while draining (see
 * UdpServing).
 */
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Dispatcher } from './dispatcher.js';
import { malformedTotal } from './metrics.js';
import type { RequestOrigin } from './request.js';
import { trackBatchSocket } from './udp-batch-metrics.js';
import { adoptDgram, FLAG_SCOPED, FLAG_TRUNCATED, IN_META, OUT_META, udpBatch, type BatchSocket, type UdpBatchAddon } from './udp-batch.js';

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
 * datagrams already queued stay readable. This needs a port bound explicitly: disconnecting a
 * socket whose port the kernel chose gives it up.
 *
 * Replies meanwhile: Linux sends a datagram with an explicit destination from a connected socket,
 * and the addon does exactly that, so the batched path sends them as they come. dgram refuses to
 * (ERR_SOCKET_DGRAM_IS_CONNECTED), so the dgram path holds them and sends them once the queue and
 * the answers in flight are done, with the socket disconnected for just that synchronous moment.
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
  // A socket error (e.g. ICMP-induced) must never take the process down.
  socket.on('error', (err) => logger.warn({ err }, 'udp socket error'));
  const batch = udpBatch();
  if (batch.ok) {
    try {
      const serving = serveBatched(batch.addon, socket, server, current, portLocked);
      announce(logger, 'info', `udp: batched I/O (native udp_batch: recvmmsg/sendmmsg, ${BATCH} datagrams a call)`);
      return serving;
    } catch (err) {
      logger.warn({ err, server }, 'udp: batched I/O failed to start on this socket; serving it through Node dgram');
    }
  } else if (batch.disabled) {
    announce(logger, 'info', `udp: Node dgram (${batch.reason})`);
  } else {
    announce(logger, 'warn', `udp: Node dgram, native batching unavailable: ${batch.reason}`);
  }
  return serveDgram(socket, server, current, portLocked);
}

/** Datagrams per recvmmsg/sendmmsg. More only adds to the time one batch holds the loop. */
const BATCH = 64;
/** Bytes per datagram. A query is far smaller; a longer datagram is dropped (and counted). */
const SLOT = 4096;

let announced = false;
/** Says once per process how UDP is served (the tests check it on CI, where the addon must load). */
function announce(logger: Logger, level: 'info' | 'warn', msg: string): void {
  if (announced) return;
  announced = true;
  logger[level](msg);
}

/**
 * What both UDP paths keep for a socket: each datagram's RequestOrigin, the answers still in
 * flight (asynchronous ones: forward), and, once draining, when the last datagram was read.
 */
function udpRequests(local: { address: string; port: number }, server: string, current: () => Dispatcher) {
  let inFlight = 0;
  let lastMessage = 0;
  let draining = false;
  const settled = (): void => {
    inFlight--;
  };
  return {
    /**
     * answer() never throws or rejects (it logs), and returns a promise only for an asynchronous
     * answer; `send` gets the reply, now or later.
     */
    answer(msg: Buffer, remoteAddress: string, remotePort: number, send: (reply: Buffer) => void): void {
      if (draining) lastMessage = Date.now();
      const origin: RequestOrigin = { transport: 'udp', remoteAddress, remotePort, localAddress: local.address, localPort: local.port, server };
      const p: void | Promise<void> = current().answer(msg, origin, send);
      if (p) {
        inFlight++;
        void p.then(settled);
      }
    },
    startDraining(): void {
      draining = true;
      lastMessage = Date.now();
    },
    busy: (quietMs: number): boolean => inFlight > 0 || Date.now() - lastMessage < quietMs,
  };
}

function serveBatched(
  addon: UdpBatchAddon,
  socket: dgram.Socket,
  server: string,
  current: () => Dispatcher,
  portLocked: boolean,
): UdpServing {
  const local = socket.address();
  const requests = udpRequests(local, server, current);
  /** Increases with every batch; a reply carries the number of its query's batch. */
  let seq = 0;
  /** Inside the batch callback: a reply written now goes into the out slab. */
  let open = false;
  let replies = 0;
  // The source address text of the previous datagram: under load most datagrams of a batch come
  // from the same few clients, and this saves asking the addon to format the same bytes again.
  let lastFamily = 0;
  let lastW0 = 0;
  let lastW1 = 0;
  let lastW2 = 0;
  let lastW3 = 0;
  let lastText = '';
  let closed = false;

  const onBatch = (n: number): void => {
    const batchSeq = ++seq;
    open = true;
    replies = 0;
    try {
      for (let i = 0; i < n; i++) {
        const m = i * IN_META;
        const flags = meta[m + 1]!;
        const port = meta[m + 3]!;
        // Too long to be a query: dropped unread. (Source port 0 is dropped by the dispatcher.)
        if (flags & FLAG_TRUNCATED) {
          malformedTotal.inc({ action: 'drop' });
          continue;
        }
        // Its own copy: the slab is overwritten by the next batch, and a plugin may keep the query
        // longer (forward). allocUnsafeSlow, not the pool: a pooled 40-byte view would pin an 8 KB
        // pool slab for as long as the query is kept (the two measured the same: 15.3 and 14.7 µs
        // CPU a query at saturation, within the noise).
        const len = meta[m]!;
        const msg = Buffer.allocUnsafeSlow(len);
        slab.copy(msg, 0, i * slot, i * slot + len);
        let address: string;
        if (flags & FLAG_SCOPED) address = sock.address(i);
        else {
          const f = meta[m + 2]!;
          const w0 = meta[m + 4]!;
          const w1 = meta[m + 5]!;
          const w2 = meta[m + 6]!;
          const w3 = meta[m + 7]!;
          if (f !== lastFamily || w0 !== lastW0 || w1 !== lastW1 || w2 !== lastW2 || w3 !== lastW3) {
            lastText = sock.address(i);
            lastFamily = f;
            lastW0 = w0;
            lastW1 = w1;
            lastW2 = w2;
            lastW3 = w3;
          }
          address = lastText;
        }
        const index = i;
        requests.answer(msg, address, port, (reply) => {
          if (open && seq === batchSeq && replies < batchSize && reply.length <= slot) {
            out.set(reply, replies * slot);
            const o = replies * OUT_META;
            outMeta[o] = reply.length;
            outMeta[o + 1] = index;
            replies++;
          } else if (!closed) {
            // Answered after its batch (asynchronously) or too long for a slot: on its own. (After
            // close, e.g. an upstream answering past the drain deadline, there is no one to send it.)
            sock.sendOne(reply, address, port);
          }
        });
      }
    } finally {
      open = false;
      if (replies > 0 && !closed) sock.send(replies);
    }
  };

  const sock: BatchSocket = adoptDgram(addon, socket, onBatch, { batch: BATCH, slot: SLOT });
  const slab = Buffer.from(sock.in.buffer, sock.in.byteOffset, sock.in.byteLength);
  const meta = sock.inMeta;
  const out = sock.out;
  const outMeta = sock.outMeta;
  const slot = sock.slot;
  const batchSize = sock.batch;
  const untrack = trackBatchSocket(sock);
  const closeBatch = (): void => {
    closed = true;
    untrack();
    sock.close();
  };
  // PortListener.close() (a port a reload no longer serves) closes the dgram socket directly.
  socket.once('close', closeBatch);

  return {
    async stopReceiving() {
      requests.startDraining();
      return portLocked && (await connectToSelf(socket, local));
    },
    busy: requests.busy,
    // Nothing is held: replies went out as they came (see UdpServing).
    flush: () => false,
    close() {
      closeBatch();
      try {
        socket.close();
      } catch {
        /* already closed */
      }
    },
  };
}

function serveDgram(socket: dgram.Socket, server: string, current: () => Dispatcher, portLocked: boolean): UdpServing {
  const local = socket.address();
  /** Replies held while the socket is connected to itself (shutdown); undefined while serving. */
  let held: Array<{ reply: Buffer; port: number; address: string }> | undefined;
  const requests = udpRequests(local, server, current);
  socket.on('message', (msg, rinfo) => {
    // send() gets no callback: with one, Node schedules a process.nextTick per datagram to call
    // it, and a failed UDP send has no one to tell anyway.
    requests.answer(msg, rinfo.address, rinfo.port, (reply) => {
      if (held) held.push({ reply, port: rinfo.port, address: rinfo.address });
      else socket.send(reply, rinfo.port, rinfo.address);
    });
  });

  const self = selfAddress(local);
  let connected = false;

  return {
    async stopReceiving() {
      held = [];
      requests.startDraining();
      connected = portLocked && (await connectToSelf(socket, local));
      return connected;
    },
    busy: requests.busy,
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

function selfAddress(local: { family: string }): string {
  return local.family === 'IPv6' ? '::1' : '127.0.0.1';
}

/** Connects the socket to its own port on loopback (see UdpServing); false if that failed. */
function connectToSelf(socket: dgram.Socket, local: { family: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const onError = (): void => resolve(false);
    socket.once('error', onError);
    try {
      socket.connect(local.port, selfAddress(local), (err?: Error) => {
        socket.off('error', onError);
        resolve(!err);
      });
    } catch {
      socket.off('error', onError);
      resolve(false);
    }
  });
}
