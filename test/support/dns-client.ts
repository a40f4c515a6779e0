/**
 * A raw DNS client for tests: sends one query over UDP or TCP and decodes the reply with our
 * codec, so tests can assert on every header bit and section. (Tests also use Node's c-ares
 * Resolver and dig as independent clients.)
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { RRClass } from '../../src/dns/constants.js';
import { decodeMessage } from '../../src/dns/decode.js';
import { encodeMessage } from '../../src/dns/encode.js';
import { emptyHeader, type Message } from '../../src/dns/message.js';

export interface QueryOptions {
  tcp?: boolean;
  /** Add an OPT with this UDP size (no OPT when undefined). */
  udpSize?: number;
  do?: boolean;
  rd?: boolean;
  id?: number;
  qclass?: number;
  opcode?: number;
  host?: string;
  timeoutMs?: number;
}

export function buildQuery(name: string, type: number, o: QueryOptions = {}): Buffer {
  const m: Message = {
    ...emptyHeader(o.id ?? Math.floor(Math.random() * 65536)),
    rd: o.rd ?? true,
    opcode: o.opcode ?? 0,
    questions: [{ name, type, class: o.qclass ?? RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    ...(o.udpSize !== undefined ? { edns: { udpSize: o.udpSize, version: 0, do: o.do ?? false, options: [] } } : {}),
  };
  return encodeMessage(m);
}

export async function query(port: number, name: string, type: number, o: QueryOptions = {}): Promise<Message & { size: number }> {
  const wire = buildQuery(name, type, o);
  const reply = o.tcp ? await sendTcp(port, wire, o) : await sendUdp(port, wire, o);
  return Object.assign(decodeMessage(reply), { size: reply.length });
}

export function sendUdp(port: number, wire: Buffer, o: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('udp query timed out')); }, o.timeoutMs ?? 3000);
    s.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) !== wire.readUInt16BE(0)) return;
      clearTimeout(t);
      s.close();
      resolve(msg);
    });
    s.send(wire, port, o.host ?? '127.0.0.1');
  });
}

/** Sends frames on one TCP connection and collects `expect` replies. */
export function sendTcpFrames(port: number, frames: Buffer[], expect: number, o: { host?: string; timeoutMs?: number; raw?: Buffer } = {}): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const sock = net.connect(port, o.host ?? '127.0.0.1');
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`tcp: got ${replies.length}/${expect} replies`)); }, o.timeoutMs ?? 3000);
    sock.on('connect', () => {
      if (o.raw) sock.write(o.raw);
      for (const f of frames) {
        const h = Buffer.alloc(2);
        h.writeUInt16BE(f.length);
        sock.write(Buffer.concat([h, f]));
      }
    });
    sock.on('data', (d) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        replies.push(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
      }
      if (replies.length >= expect) {
        clearTimeout(t);
        sock.destroy();
        resolve(replies);
      }
    });
    sock.on('error', (err) => { clearTimeout(t); reject(err); });
  });
}

export async function sendTcp(port: number, wire: Buffer, o: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  const [r] = await sendTcpFrames(port, [wire], 1, o);
  return r!;
}
