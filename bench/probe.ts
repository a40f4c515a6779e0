/**
 * Small DNS and HTTP probes for the benchmark: is a server answering, is /ready 200, and a UDP
 * client that keeps one socket and matches replies by ID (the watch→answer poller sends many
 * queries a second).
 */
import dgram from 'node:dgram';
import http from 'node:http';
import { RRClass, RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import { encodeMessage } from '../src/dns/encode.js';
import { emptyHeader, type Message } from '../src/dns/message.js';

export class DnsClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly pending = new Map<number, { resolve(m: Message): void; timer: NodeJS.Timeout }>();
  private nextId = 1;

  constructor(private readonly port: number, private readonly host = '127.0.0.1') {
    this.socket.on('message', (msg) => {
      if (msg.length < 12) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p) return;
      this.pending.delete(msg.readUInt16BE(0));
      clearTimeout(p.timer);
      try {
        p.resolve(decodeMessage(msg));
      } catch {
        /* a reply we cannot decode counts as no reply: the caller retries */
      }
    });
    this.socket.unref();
  }

  /** The reply, or undefined after timeoutMs. */
  query(name: string, type: number, timeoutMs = 1000): Promise<Message | undefined> {
    let id = this.nextId;
    while (this.pending.has(id)) id = (id % 65535) + 1;
    this.nextId = (id % 65535) + 1;
    const wire = encodeMessage({
      ...emptyHeader(id), rd: true, questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      this.socket.send(wire, this.port, this.host);
    });
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.socket.close();
  }
}

/** The zone's SOA serial, or undefined when there is no good answer in time. */
export async function soaSerial(port: number, zone: string, timeoutMs = 1000): Promise<number | undefined> {
  const c = new DnsClient(port);
  try {
    const m = await c.query(zone, RRType.SOA, timeoutMs);
    const soa = m?.rcode === 0 ? m.answers.find((r) => r.type === RRType.SOA) : undefined;
    return soa && 'serial' in soa ? (soa.serial as number) : undefined;
  } finally {
    c.close();
  }
}

/** The A addresses answered for name (empty for no answer / no records). */
export function addresses(m: Message | undefined): string[] {
  if (!m) return [];
  return m.answers.filter((r) => r.type === RRType.A).map((r) => (r as { address: string }).address);
}

/** HTTP GET status (0 when the request failed). */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export function httpText(url: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}
