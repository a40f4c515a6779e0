/**
 * A small real authoritative DNS server for forward tests: UDP and TCP on 127.0.0.1 (or another
 * loopback address), answering from a table of records, with the faults a forwarder must survive.
 *
 * - records: exact name (any case) and type → those records; a known name without the type →
 *   NOERROR/NODATA; anything else → NXDOMAIN.
 * - faults (change them at any time through `fault`): drop queries, delay answers, answer UDP with
 *   TC and no records, send a reply with a wrong ID or a wrong question before the right one, echo
 *   the question upper-cased, answer with a fixed rcode.
 * - closeReusedTcp: a TCP connection that already answered is closed when the next query comes.
 * - stop() closes both sockets (the port then refuses: ICMP unreachable / RST); restart() binds
 *   the same port again.
 * - Every query is logged (name, type, transport, ID, RD) for assertions.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { RRClass, RRType } from '../../src/dns/constants.js';
import { decodeMessage } from '../../src/dns/decode.js';
import { encodeMessage, encodeTruncated } from '../../src/dns/encode.js';
import type { Message, ResourceRecord } from '../../src/dns/message.js';

export interface SeenQuery {
  name: string;
  type: number;
  transport: 'udp' | 'tcp';
  /** The client's source port. */
  port: number;
  id: number;
  rd: boolean;
  edns: boolean;
  at: number;
}

export interface Faults {
  /** Ignore queries (all, or those the predicate picks). */
  drop?: boolean | ((q: SeenQuery) => boolean);
  /** Answer this many ms late. */
  delayMs?: number;
  /** Over UDP, answer with TC set and no records. */
  truncateUdp?: boolean;
  /** Before the real reply, send one with the ID changed ('id') or with another question ('question'), carrying 6.6.6.6. */
  spoofFirst?: 'id' | 'question';
  /** Echo the question name upper-cased. */
  upperCaseQuestion?: boolean;
  /** Answer every query with this rcode and no records. */
  rcode?: number;
  /** Over TCP, close a connection that already carried a reply when the next query arrives on it (unanswered). */
  closeReusedTcp?: boolean;
}

export const SPOOFED_ADDRESS = '6.6.6.6';

export const rr = {
  a: (name: string, address: string, ttl = 300): ResourceRecord => ({ name, class: RRClass.IN, ttl, type: RRType.A, address }),
  aaaa: (name: string, address: string, ttl = 300): ResourceRecord => ({ name, class: RRClass.IN, ttl, type: RRType.AAAA, address }),
  mx: (name: string, preference: number, exchange: string, ttl = 300): ResourceRecord => ({ name, class: RRClass.IN, ttl, type: RRType.MX, preference, exchange }),
  txt: (name: string, strings: string[], ttl = 300): ResourceRecord => ({ name, class: RRClass.IN, ttl, type: RRType.TXT, strings }),
};

export class UpstreamServer {
  records: ResourceRecord[];
  fault: Faults = {};
  readonly queries: SeenQuery[] = [];
  /** TCP connections accepted so far. */
  tcpConnections = 0;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(readonly host: string, public port: number, records: ResourceRecord[]) {
    this.records = records;
  }

  /** Starts on host:port (port 0: any free port, the same for UDP and TCP). */
  static async start(opts: { records?: ResourceRecord[]; host?: string; port?: number } = {}): Promise<UpstreamServer> {
    const s = new UpstreamServer(opts.host ?? '127.0.0.1', opts.port ?? 0, opts.records ?? []);
    for (let attempt = 0; ; attempt++) {
      try {
        await s.listen();
        return s;
      } catch (err) {
        await s.stop();
        if (opts.port || attempt >= 20) throw err;
        s.port = 0;
      }
    }
  }

  /** "127.0.0.1:PORT", as forward's `to` label shows it. */
  get addr(): string {
    return `${this.host}:${this.port}`;
  }

  /** Queries seen, optionally only for one name (any case) and/or type. */
  count(name?: string, type?: number): number {
    return this.seen(name, type).length;
  }

  seen(name?: string, type?: number): SeenQuery[] {
    const n = name?.toLowerCase();
    return this.queries.filter((q) => (n === undefined || q.name.toLowerCase() === n) && (type === undefined || q.type === type));
  }

  private async listen(): Promise<void> {
    const tcp = net.createServer((c) => this.serveTcp(c));
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.port, this.host, () => resolve());
    });
    this.port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
    this.udp = udp;
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port, this.host, () => resolve());
    });
    udp.on('error', () => { /* a client went away */ });
    udp.on('message', (msg, rinfo) => this.handle(msg, 'udp', rinfo.port, (out) => udp.send(out, rinfo.port, rinfo.address)));
  }

  /** Closes both sockets and every TCP connection: the port refuses until restart(). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp) await new Promise<void>((resolve) => { try { udp.close(() => resolve()); } catch { resolve(); } });
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  private serveTcp(c: net.Socket): void {
    this.conns.add(c);
    this.tcpConnections++;
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => c.destroy());
    let buf = Buffer.alloc(0);
    let answered = 0;
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        if (this.fault.closeReusedTcp && answered > 0) {
          c.destroy();
          return;
        }
        answered++;
        this.handle(msg, 'tcp', c.remotePort ?? 0, (out) => {
          if (c.destroyed) return;
          const h = Buffer.alloc(2);
          h.writeUInt16BE(out.length);
          c.write(Buffer.concat([h, out]));
        });
      }
    });
  }

  private handle(wire: Buffer, transport: 'udp' | 'tcp', port: number, send: (b: Buffer) => void): void {
    let query: Message;
    try {
      query = decodeMessage(wire);
    } catch {
      return;
    }
    const q = query.questions[0];
    if (!q) return;
    const seen: SeenQuery = { name: q.name, type: q.type, transport, port, id: query.id, rd: query.rd, edns: query.edns !== undefined, at: Date.now() };
    this.queries.push(seen);
    const f = this.fault;
    if (f.drop === true || (typeof f.drop === 'function' && f.drop(seen))) return;
    const respond = (): void => {
      const maxSize = transport === 'tcp' ? 65535 : query.edns ? Math.max(512, query.edns.udpSize) : 512;
      if (f.spoofFirst) {
        const spoof = this.reply(query, transport);
        spoof.answers = [{ name: q.name, class: RRClass.IN, ttl: 300, type: RRType.A, address: SPOOFED_ADDRESS }];
        spoof.rcode = 0;
        if (f.spoofFirst === 'id') spoof.id = (query.id + 1) & 0xffff;
        else spoof.questions = [{ ...q, name: `spoofed.${q.name === '.' ? '' : q.name}` }];
        send(encodeMessage(spoof));
      }
      send(encodeTruncated(this.reply(query, transport), maxSize));
    };
    if (f.delayMs) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        respond();
      }, f.delayMs);
      this.timers.add(t);
    } else respond();
  }

  private reply(query: Message, transport: 'udp' | 'tcp'): Message {
    const q = query.questions[0]!;
    const f = this.fault;
    const m: Message = {
      id: query.id, qr: true, opcode: query.opcode, aa: true, tc: false, rd: query.rd, ra: false, z: false, ad: false, cd: false, rcode: 0,
      questions: [{ ...q, name: f.upperCaseQuestion ? q.name.toUpperCase() : q.name }],
      answers: [], authorities: [], additionals: [],
      ...(query.edns ? { edns: { udpSize: 1232, version: 0, do: false, options: [] } } : {}),
    };
    if (f.rcode !== undefined) {
      m.rcode = f.rcode;
      return m;
    }
    const name = q.name.toLowerCase();
    const owned = this.records.filter((r) => r.name.toLowerCase() === name);
    if (owned.length === 0) {
      m.rcode = 3;
      return m;
    }
    if (transport === 'udp' && f.truncateUdp) {
      m.tc = true;
      return m;
    }
    m.answers = owned.filter((r) => r.type === q.type).map((r) => ({ ...r, name: q.name }));
    return m;
  }
}
