/**
 * What the cache writer needs from a pre-encoded reply, read from the wire without decoding it:
 * classify.ts's reply type, and the lowest and highest record TTL (OPT excluded, an SOA's MINIMUM
 * folded in for denials as minimalTtl does). With it the writer can tell that capping the TTLs
 * would leave every record as it is, and pass the bytes on untouched.
 *
 * Only the common shapes are read; anything else returns undefined and the caller decodes:
 * more than one question, a reply with an RRSIG (its validity needs the clock), an OPT with an
 * extended rcode, a NOERROR answer that also carries an SOA (cacheReplyType then follows the
 * CNAME chain), and any malformed or truncated record.
 */
import { Opcode, Rcode, RRType } from '../../dns/constants.js';
import { ReplyType } from './classify.js';
import { skipWireName } from '../../dns/names.js';

export interface WireFacts {
  type: ReplyType;
  /** Records in the three sections, OPT excluded. */
  records: number;
  /** Lowest and highest TTL of those records. */
  minTtl: number;
  maxTtl: number;
  /** Lowest TTL with each SOA counted as min(TTL, MINIMUM): minimalTtl for a denial. */
  minDenialTtl: number;
  /** The question as it is on the wire: its name occupies [12, nameEnd). */
  nameEnd: number;
  qtype: number;
  qclass: number;
}

export function wireFacts(w: Buffer): WireFacts | undefined {
  if (w.length < 12) return undefined;
  if (((w[4]! << 8) | w[5]!) !== 1) return undefined;
  const an = (w[6]! << 8) | w[7]!;
  const ns = (w[8]! << 8) | w[9]!;
  const ar = (w[10]! << 8) | w[11]!;
  const opcode = (w[2]! >> 3) & 0x0f;
  const rcode = w[3]! & 0x0f;

  const nameEnd = skipWireName(w, 12);
  if (nameEnd < 0 || nameEnd + 4 > w.length) return undefined;
  const qtype = (w[nameEnd]! << 8) | w[nameEnd + 1]!;
  const qclass = (w[nameEnd + 2]! << 8) | w[nameEnd + 3]!;

  let p = nameEnd + 4;
  let records = 0;
  let minTtl = Infinity;
  let maxTtl = -Infinity;
  let minDenialTtl = Infinity;
  let soaInAuthority = false;
  let nsInAuthority = 0;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    p = skipWireName(w, p);
    if (p < 0 || p + 10 > w.length) return undefined;
    const type = (w[p]! << 8) | w[p + 1]!;
    const ttl = w.readUInt32BE(p + 4);
    const rdlen = (w[p + 8]! << 8) | w[p + 9]!;
    const rdata = p + 10;
    p = rdata + rdlen;
    if (p > w.length) return undefined;
    if (type === RRType.RRSIG) return undefined;
    if (type === RRType.OPT) {
      // The extended rcode lives in the OPT TTL's top byte; replies that use it are decoded.
      if (i < an + ns || w[rdata - 6] !== 0) return undefined;
      continue;
    }
    records++;
    if (ttl < minTtl) minTtl = ttl;
    if (ttl > maxTtl) maxTtl = ttl;
    let denialTtl = ttl;
    if (type === RRType.SOA) {
      // RDATA: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM (5 × 32 bits).
      const end = skipWireName(w, skipWireName(w, rdata));
      if (end < 0 || end + 20 !== p) return undefined;
      denialTtl = Math.min(ttl, w.readUInt32BE(end + 16));
      if (i >= an && i < an + ns) soaInAuthority = true;
    } else if (type === RRType.NS && i >= an && i < an + ns) {
      nsInAuthority++;
    }
    if (denialTtl < minDenialTtl) minDenialTtl = denialTtl;
  }
  if (p !== w.length) return undefined;

  // classify.ts typify + cacheReplyType, for a reply without RRSIGs and with a 4-bit rcode.
  let type: ReplyType;
  if (opcode === Opcode.UPDATE) type = ReplyType.Update;
  else if (opcode === Opcode.NOTIFY || qtype === RRType.AXFR || qtype === RRType.IXFR) type = ReplyType.Meta;
  else if (an > 0 && rcode === Rcode.NOERROR) {
    // With an SOA too, cacheReplyType asks whether the answer answers the question: decode for that.
    if (soaInAuthority) return undefined;
    type = ReplyType.NoError;
  } else if (an > 0 && rcode === Rcode.NXDOMAIN) type = ReplyType.OtherError;
  else if (soaInAuthority && rcode === Rcode.NOERROR) type = ReplyType.NoData;
  else if (rcode === Rcode.NXDOMAIN) type = ReplyType.NameError;
  else if (rcode === Rcode.SERVFAIL || rcode === Rcode.NOTIMP) type = ReplyType.ServerError;
  else if (nsInAuthority > 0 && rcode === Rcode.NOERROR) type = ReplyType.Delegation;
  else if (rcode === Rcode.NOERROR) type = ReplyType.NoError;
  else type = ReplyType.OtherError;

  return { type, records, minTtl, maxTtl, minDenialTtl, nameEnd, qtype, qclass };
}
