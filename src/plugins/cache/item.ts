/**
 * One cached reply (CoreDNS's cache item). It is kept as wire bytes — compact, outside the JS
 * heap, and a known size for the cache's byte bound — together with the offset of every record's
 * TTL field, so that a hit is one copy plus a few writes: the client's ID, flags and question
 * case, the counted-down TTL, and an OPT record when the query had one.
 */
import { encodeMessage } from '../../dns/encode.js';
import { decodeMessage } from '../../dns/decode.js';
import type { Message, ResourceRecord } from '../../dns/message.js';
import { ADVERTISED_UDP_SIZE } from '../../server/base-writer.js';
import type { Request } from '../../server/request.js';
import { skipWireName } from '../../dns/names.js';

/** Bytes counted per entry on top of its wire size and key: the item object, its Buffer and the LRU's bookkeeping (measured: ~530 bytes on Node 20). */
export const ENTRY_OVERHEAD_BYTES = 512;

export class CacheItem {
  /** Queries seen for this item within the prefetch window (CoreDNS's freq.Freq). */
  hits = 0;
  private lastSeen = -Infinity;
  /** At most one prefetch/refresh in flight per item. */
  refreshing = false;

  private constructor(
    /** The reply without OPT, every TTL equal to origTTL; its own memory (never a slice of a shared pool). */
    private readonly wire: Buffer,
    private readonly ttlOffsets: readonly number[],
    /** End of the question name in `wire` (it starts at 12). */
    private readonly qnameEnd: number,
    readonly rcode: number,
    readonly ad: boolean,
    readonly ra: boolean,
    /** Seconds the item is fresh for. */
    readonly origTTL: number,
    /** When it was stored (ms, the cache's monotonic clock). */
    readonly stored: number,
  ) {}

  /**
   * Builds an item from a reply whose records already carry the cache duration as TTL (the handler
   * applies it to the reply it sends, as CoreDNS does). Throws EncodeError if it cannot be encoded.
   */
  static fromMessage(m: Message, now: number, durationSeconds: number): CacheItem {
    const { edns: _hopByHop, ...rest } = m;
    const encoded = encodeMessage({ ...rest, id: 0, rcode: m.rcode & 0x0f });
    const wire = Buffer.alloc(encoded.length);
    encoded.copy(wire);
    const { offsets, qnameEnd } = ttlOffsets(wire);
    return new CacheItem(wire, offsets, qnameEnd, m.rcode & 0x0f, m.ad, m.ra, Math.trunc(durationSeconds), now);
  }

  /** Bytes this entry is counted for in the cache's byte bound. */
  get size(): number {
    return this.wire.length + this.ttlOffsets.length * 8 + ENTRY_OVERHEAD_BYTES;
  }

  /** Remaining seconds (CoreDNS: origTTL minus whole seconds elapsed); 0 or less once expired. */
  ttl(now: number): number {
    return this.origTTL - Math.trunc((now - this.stored) / 1000);
  }

  /** freq.Update: counts a hit, restarting the count when the last one is older than `windowMs`. */
  seen(windowMs: number, now: number): number {
    if (this.lastSeen < now - windowMs) this.hits = 1;
    else this.hits++;
    this.lastSeen = now;
    return this.hits;
  }

  /** freq.Reset: carries the popularity of the item this one replaces (prefetch). */
  resetFreq(now: number, hits: number): void {
    this.lastSeen = now;
    this.hits = hits;
  }

  /**
   * The reply for `req` with every TTL set to `ttl` (CoreDNS's toMsg): the client's ID, opcode, RD,
   * CD and question; AA set (CoreDNS sets it on every cached reply because some stub resolvers drop
   * non-authoritative answers); RA and rcode as stored; AD only when the client asked for DNSSEC or
   * set AD itself. Undefined when the request has no wire form to take the question from (the
   * caller then uses `toMessage`).
   */
  toWire(req: Request, ttl: number): Buffer | undefined {
    const q = req.wire;
    const w = this.wire;
    const nameLen = this.qnameEnd - 12;
    if (!q || q.length < 12 + nameLen + 4 || q[5] !== 1 || q[4] !== 0 || !sameNameIgnoringCase(q, w, nameLen)) return undefined;
    const edns = req.msg.edns;
    const out = Buffer.allocUnsafe(w.length + (edns ? 11 : 0));
    w.copy(out);
    out[0] = q[0]!;
    out[1] = q[1]!;
    out[2] = 0x80 | ((req.msg.opcode & 0x0f) << 3) | 0x04 | (req.msg.rd ? 0x01 : 0);
    out[3] = (this.ra ? 0x80 : 0) | (this.adFor(req) ? 0x20 : 0) | (req.msg.cd ? 0x10 : 0) | this.rcode;
    q.copy(out, 12, 12, this.qnameEnd);
    const t = Math.max(0, Math.min(ttl, 0x7fffffff));
    for (const o of this.ttlOffsets) out.writeUInt32BE(t, o);
    if (edns) {
      let p = w.length;
      out[p++] = 0; // root owner
      out.writeUInt16BE(41, p); // OPT
      out.writeUInt16BE(ADVERTISED_UDP_SIZE, p + 2);
      out.writeUInt32BE(edns.do ? 0x8000 : 0, p + 4); // extended rcode 0, version 0, DO
      out.writeUInt16BE(0, p + 8);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    return out;
  }

  /** The same reply as a Message (for synthetic requests without wire bytes). */
  toMessage(req: Request, ttl: number): Message {
    const m = decodeMessage(this.wire);
    const t = Math.max(0, Math.min(ttl, 0x7fffffff));
    const setTtl = (rrs: ResourceRecord[]): void => {
      for (const r of rrs) r.ttl = t;
    };
    setTtl(m.answers);
    setTtl(m.authorities);
    setTtl(m.additionals);
    return {
      ...m,
      id: req.id, qr: true, opcode: req.msg.opcode, aa: true, tc: false, rd: req.msg.rd, ra: this.ra, z: false,
      ad: this.adFor(req), cd: req.msg.cd, rcode: this.rcode,
      questions: req.msg.questions.map((x) => ({ ...x })),
      ...(req.msg.edns ? { edns: { udpSize: ADVERTISED_UDP_SIZE, version: 0, do: req.msg.edns.do, options: [] } } : {}),
    };
  }

  private adFor(req: Request): boolean {
    // When DNSSEC was not wanted the data cannot be authenticated, unless the client set AD (RFC 6840 5.7-5.8).
    return this.ad && (req.do || req.msg.ad);
  }
}

/** Walks an uncompressed-question wire message and returns the offset of every record's TTL. */
function ttlOffsets(w: Buffer): { offsets: number[]; qnameEnd: number } {
  const qd = w.readUInt16BE(4);
  const rrCount = w.readUInt16BE(6) + w.readUInt16BE(8) + w.readUInt16BE(10);
  let p = 12;
  let qnameEnd = 12;
  for (let i = 0; i < qd; i++) {
    p = skipWireName(w, p);
    if (i === 0) qnameEnd = p;
    p += 4;
  }
  const offsets = new Array<number>(rrCount);
  for (let i = 0; i < rrCount; i++) {
    p = skipWireName(w, p);
    offsets[i] = p + 4;
    p += 10 + w.readUInt16BE(p + 8);
  }
  return { offsets, qnameEnd };
}

/** The query's question name at offset 12 equals the stored one at 12 up to ASCII case. */
function sameNameIgnoringCase(q: Buffer, w: Buffer, len: number): boolean {
  for (let i = 12; i < 12 + len; i++) {
    let a = q[i]!;
    let b = w[i]!;
    if (a >= 0x41 && a <= 0x5a) a += 32;
    if (b >= 0x41 && b <= 0x5a) b += 32;
    if (a !== b) return false;
  }
  return true;
}
