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

export function serveUdp(
  socket: dgram.Socket,
  server: string,
  current: () => Dispatcher,
  logger: Logger,
): void {
  const local = socket.address();
  socket.on('message', (msg, rinfo) => {
    const origin: RequestOrigin = {
      transport: 'udp',
      remoteAddress: rinfo.address,
      remotePort: rinfo.port,
      localAddress: local.address,
      localPort: local.port,
      server,
    };
    // answer() never throws or rejects (it logs), and returns a promise only for an asynchronous
    // answer. send() gets no callback: with one, Node schedules a process.nextTick per datagram to
    // call it, and a failed UDP send has no one to tell anyway.
    void current().answer(msg, origin, (reply) => socket.send(reply, rinfo.port, rinfo.address));
  });
  // A socket error (e.g. ICMP-induced) must never take the process down.
  socket.on('error', (err) => logger.warn({ err }, 'udp socket error'));
}
