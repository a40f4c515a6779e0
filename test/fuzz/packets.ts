/**
 * Hostile DNS packets for the fuzzer, from a seeded PRNG so a failing run can be replayed.
 *
 * Every packet is tagged with what the server must do with it, computed from the bytes the way
 * RFC 1035/6891 and our strict parser define it (not by calling the parser under test):
 * - `expectReply: false` for packets with QR set (a response must never be answered: reflection
 *   loops) and for runts shorter than a header;
 * - `maxUdp`, the largest UDP reply allowed: 512 without a well-formed OPT, else the advertised size
 *   clamped to 512..1232. Anything we send back larger would be an amplification bug.
 */
import { RRClass, RRType } from '../../src/dns/constants.js';

/** xorshift128 (Marsaglia): fast, seedable, good enough for test data. */
export class Rng {
  private x: number;
  private y = 362436069;
  private z = 521288629;
  private w = 88675123;
  constructor(seed: number) {
    this.x = (seed >>> 0) || 123456789;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const t = this.x ^ (this.x << 11);
    this.x = this.y;
    this.y = this.z;
    this.z = this.w;
    this.w = (this.w ^ (this.w >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return this.w;
  }
  /** 0 <= n < max */
  int(max: number): number {
    return this.u32() % max;
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      b[i] = v & 0xff;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
}

export interface FuzzPacket {
  wire: Buffer;
  kind: string;
  /** False when no reply may be sent at all. */
  expectReply: boolean;
  /** The largest UDP reply allowed for this packet. */
  maxUdp: number;
}

/** Names the fuzz server knows (see fuzzCorefile), so mutations start from queries that reach every plugin. */
export const KNOWN_NAMES = [
  'web.demo.svc.cluster.local.',
  'db.demo.svc.cluster.local.',
  '_http._tcp.web.demo.svc.cluster.local.',
  'kubernetes.default.svc.cluster.local.',
  '20.10.96.10.in-addr.arpa.',
  'www.example.org.',
  'example.org.',
  'alias.example.org.',
  '_sip._tcp.example.org.',
  'www.hosts.test.',
  'big.hosts.test.',
  'who.test.',
  'nothere.demo.svc.cluster.local.',
  'x.y.z.example.org.',
  'outside.invalid.',
  '.',
];

const TYPES = [RRType.A, RRType.AAAA, RRType.SRV, RRType.PTR, RRType.TXT, RRType.MX, RRType.NS, RRType.SOA, RRType.CNAME, RRType.ANY, RRType.AXFR, RRType.IXFR, RRType.OPT, RRType.CAA, RRType.HTTPS, 0, 65535, 0xff00];
const CLASSES = [RRClass.IN, RRClass.IN, RRClass.IN, RRClass.CH, RRClass.HS, RRClass.NONE, RRClass.ANY, 0, 2, 65535];

export function nameWire(name: string): Buffer {
  if (name === '.') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const l of name.replace(/\.$/, '').split('.')) {
    const b = Buffer.from(l, 'latin1');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

function opt(udpSize: number, o: { ext?: number; version?: number; doBit?: boolean; options?: Buffer; owner?: Buffer; rdlen?: number } = {}): Buffer {
  const data = o.options ?? Buffer.alloc(0);
  const owner = o.owner ?? Buffer.from([0]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(RRType.OPT, 0);
  fixed.writeUInt16BE(udpSize, 2);
  fixed[4] = o.ext ?? 0;
  fixed[5] = o.version ?? 0;
  fixed[6] = o.doBit ? 0x80 : 0;
  fixed.writeUInt16BE(o.rdlen ?? data.length, 8);
  return Buffer.concat([owner, fixed, data]);
}

/** A well-formed query (optionally with an OPT). */
export function validQuery(id: number, name: string, qtype: number, qclass: number = RRClass.IN, udpSize?: number, doBit = false): Buffer {
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(qclass, 2);
  const parts = [header(id, 0x0100, 1, 0, 0, udpSize === undefined ? 0 : 1), nameWire(name), q];
  if (udpSize !== undefined) parts.push(opt(udpSize, { doBit }));
  return Buffer.concat(parts);
}

/**
 * What the server may send back for these bytes, computed independently of the server's parser:
 * nothing for a runt or a packet with QR set; otherwise at most 512 bytes over UDP unless the
 * packet is one question followed by exactly one well-formed root OPT (then the OPT's size,
 * clamped to 512..1232). When in doubt the smaller bound is taken, so the check is strict.
 */
export function classify(wire: Buffer, kind: string): FuzzPacket {
  if (wire.length < 12 || (wire[2]! & 0x80) !== 0) return { wire, kind, expectReply: false, maxUdp: 0 };
  let maxUdp = 512;
  const qd = wire.readUInt16BE(4);
  const an = wire.readUInt16BE(6);
  const ns = wire.readUInt16BE(8);
  const ar = wire.readUInt16BE(10);
  if (qd === 1 && an === 0 && ns === 0 && ar === 1) {
    let p = 12;
    let ok = true;
    for (let guard = 0; ; guard++) {
      if (p >= wire.length || guard > 128) { ok = false; break; }
      const l = wire[p]!;
      if (l === 0) { p++; break; }
      if (l > 63) { ok = false; break; }
      p += 1 + l;
    }
    p += 4;
    if (ok && p + 11 <= wire.length && wire[p] === 0 && wire.readUInt16BE(p + 1) === RRType.OPT && p + 11 + wire.readUInt16BE(p + 9) === wire.length) {
      maxUdp = Math.min(Math.max(wire.readUInt16BE(p + 3), 512), 1232);
    }
  }
  return { wire, kind, expectReply: true, maxUdp };
}

/** One hostile packet. `id` goes in the header (kept unless the mutation destroys it). */
export function hostilePacket(rng: Rng, id: number): FuzzPacket {
  const k = rng.int(100);
  const name = rng.pick(KNOWN_NAMES);
  const qtype = rng.pick(TYPES);
  let wire: Buffer;
  let kind: string;
  if (k < 10) {
    kind = 'random';
    wire = rng.bytes(12 + rng.int(600));
    wire.writeUInt16BE(id, 0);
    if (rng.chance(0.8)) wire[2] = wire[2]! & 0x7f; // mostly queries, so the parser is exercised past the QR check
  } else if (k < 15) {
    kind = 'runt';
    wire = rng.bytes(rng.int(12));
  } else if (k < 35) {
    kind = 'mutated';
    wire = validQuery(id, name, qtype, RRClass.IN, rng.chance(0.5) ? 512 + rng.int(4000) : undefined, rng.chance(0.3));
    const flips = 1 + rng.int(4);
    for (let i = 0; i < flips; i++) {
      const at = 2 + rng.int(wire.length - 2); // keep the ID so replies can be matched
      if (rng.chance(0.5)) wire[at] = wire[at]! ^ (1 << rng.int(8));
      else wire[at] = rng.int(256);
    }
    if (rng.chance(0.2)) wire = wire.subarray(0, 12 + rng.int(wire.length - 11));
    else if (rng.chance(0.1)) wire = Buffer.concat([wire, rng.bytes(1 + rng.int(40))]);
  } else if (k < 42) {
    kind = 'truncated';
    const full = validQuery(id, name, qtype, RRClass.IN, rng.chance(0.5) ? 1232 : undefined);
    wire = full.subarray(0, 12 + rng.int(full.length - 12));
  } else if (k < 50) {
    kind = 'pointer';
    // Compression pointers where a query may have none: a self loop at 12, a two-pointer loop,
    // a pointer into the header, a long backward chain in an extra record.
    const v = rng.int(4);
    const q = Buffer.from([0, rng.pick(TYPES) & 0xff, 0, 1]);
    if (v === 0) wire = Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), Buffer.from([0xc0, 12]), q]);
    else if (v === 1) wire = Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), Buffer.from([1, 0x61, 0xc0, 14, 0xc0, 12]), q]);
    else if (v === 2) wire = Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 2]), q]);
    else {
      const chain: number[] = [];
      for (let i = 0; i < 200; i++) chain.push(0xc0, 12 + 2 * Math.max(0, i - 1));
      wire = Buffer.concat([header(id, 0x0100, 2, 0, 0, 0), nameWire(name), q, Buffer.from(chain), q]);
    }
  } else if (k < 56) {
    kind = 'long-label';
    const bad = Buffer.alloc(1 + 64 + rng.int(60), 0x61);
    bad[0] = 64 + rng.int(128); // 64..191: a label type that does not exist, or a length over 63
    wire = Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), bad, Buffer.from([0, 0, 1, 0, 1])]);
  } else if (k < 62) {
    kind = 'long-name';
    const labels: Buffer[] = [];
    let total = 0;
    const target = 250 + rng.int(300);
    while (total < target) {
      const l = 1 + rng.int(63);
      labels.push(Buffer.from([l]), Buffer.alloc(l, 0x62));
      total += l + 1;
    }
    wire = Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  } else if (k < 70) {
    kind = 'qdcount';
    const qd = rng.pick([0, 0, 2, 3, 65535]);
    const body = qd === 0 ? Buffer.alloc(0) : Buffer.concat(Array.from({ length: Math.min(qd, 3) }, () => validQuery(0, rng.pick(KNOWN_NAMES), qtype).subarray(12)));
    wire = Buffer.concat([header(id, 0x0100, qd, rng.chance(0.3) ? 1 : 0, 0, 0), body]);
  } else if (k < 80) {
    kind = 'bogus-opt';
    const base = validQuery(id, name, qtype).subarray(0);
    const v = rng.int(8);
    let extra: Buffer;
    let ar = 1;
    if (v === 0) extra = opt(rng.int(65536), { owner: nameWire('x.') }); // not owned by the root
    else if (v === 1) extra = opt(4096, { rdlen: 100 }); // RDLENGTH past the end
    else if (v === 2) { extra = Buffer.concat([opt(4096), opt(4096)]); ar = 2; } // two OPTs
    else if (v === 3) extra = opt(rng.int(512), { options: Buffer.from([0, 10, 0, 200, 1, 2]) }); // option past RDATA
    else if (v === 4) extra = opt(65535, { version: 1 + rng.int(255), ext: rng.int(256), doBit: true });
    else if (v === 5) extra = opt(rng.int(65536), { options: rng.bytes(rng.int(300)) });
    else if (v === 6) extra = opt(0); // advertises less than 512
    else { extra = Buffer.alloc(0); ar = 1; } // ARCOUNT 1 and nothing there
    wire = Buffer.concat([base, extra]);
    wire.writeUInt16BE(ar, 10);
  } else if (k < 88) {
    kind = 'types-classes';
    wire = validQuery(id, rng.chance(0.7) ? name : randomName(rng, rng.pick(['demo.svc.cluster.local.', 'example.org.', 'hosts.test.', 'in-addr.arpa.', 'test.'])), rng.int(65536), rng.pick(CLASSES), rng.chance(0.5) ? rng.int(65536) : undefined, rng.chance(0.5));
  } else if (k < 93) {
    kind = 'qr-set';
    wire = validQuery(id, name, qtype, RRClass.IN, rng.chance(0.5) ? 4096 : undefined);
    wire[2] = wire[2]! | 0x80;
    if (rng.chance(0.5)) wire[3] = rng.int(256);
  } else if (k < 97) {
    kind = 'opcode';
    wire = validQuery(id, name, qtype);
    wire[2] = (wire[2]! & 0x87) | ((1 + rng.int(15)) << 3);
  } else {
    kind = 'odd-bytes-name';
    const l = 1 + rng.int(63);
    const label = rng.bytes(l);
    wire = Buffer.concat([header(id, 0x0100, 1, 0, 0, 0), Buffer.from([l]), label, nameWire(rng.pick(['example.org.', 'demo.svc.cluster.local.', 'hosts.test.'])), Buffer.from([0, rng.pick([1, 28, 255, 33]), 0, 1])]);
  }
  return classify(wire, kind);
}

/** A random, almost certainly non-existent name under `zone`. */
export function randomName(rng: Rng, zone: string): string {
  const n = 1 + rng.int(3);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + rng.int(20);
    let s = '';
    for (let j = 0; j < len; j++) s += 'abcdefghijklmnopqrstuvwxyz0123456789-'[rng.int(37)];
    labels.push(s);
  }
  return `${labels.join('.')}.${zone === '.' ? '' : zone}`;
}

/** A TCP byte stream of hostile frames: bad length prefixes, split frames, garbage, valid frames between. */
export function hostileTcpStream(rng: Rng, frames: number, firstId: number): { chunks: Buffer[]; frames: number; expectAnswers: number[] } {
  const chunks: Buffer[] = [];
  const expectAnswers: number[] = [];
  let sent = 0;
  for (let i = 0; i < frames; i++) {
    const id = (firstId + i) & 0xffff;
    const v = rng.int(10);
    if (v < 3) {
      // A valid query: it must be answered on this connection.
      const q = validQuery(id, rng.pick(KNOWN_NAMES.slice(0, 11)), rng.pick([RRType.A, RRType.AAAA, RRType.SRV, RRType.ANY, RRType.TXT]));
      chunks.push(frame(q));
      expectAnswers.push(id);
    } else if (v < 8) {
      chunks.push(frame(hostilePacket(rng, id).wire));
    } else if (v < 9) {
      chunks.push(frame(Buffer.alloc(0))); // a zero-length frame
    } else {
      chunks.push(frame(rng.bytes(1 + rng.int(300))));
    }
    sent++;
  }
  // Split the stream at random points, as a slow or hostile network would.
  const all = Buffer.concat(chunks);
  const out: Buffer[] = [];
  let p = 0;
  while (p < all.length) {
    const n = rng.chance(0.3) ? 1 + rng.int(3) : 1 + rng.int(2000);
    out.push(all.subarray(p, p + n));
    p += n;
  }
  return { chunks: out, frames: sent, expectAnswers };
}

export function frame(msg: Buffer): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(msg.length, 0);
  return Buffer.concat([h, msg]);
}
