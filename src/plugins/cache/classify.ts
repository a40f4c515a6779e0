/**
 * What kind of reply this is and how long it may be cached: CoreDNS's response.Typify,
 * dnsutil.MinimalTTLWithMaximum and the cache's key()/cacheResponseType rules. Pure functions.
 */
import { Opcode, Rcode, RRType } from '../../dns/constants.js';
import type { Message, ResourceRecord } from '../../dns/message.js';
import { asciiLower } from '../../dns/names.js';

/** response.Type: how the cache files a reply. */
export const ReplyType = {
  NoError: 0, NameError: 1, ServerError: 2, NoData: 3, Delegation: 4, Meta: 5, Update: 6, OtherError: 7,
} as const;
export type ReplyType = (typeof ReplyType)[keyof typeof ReplyType];

/** CoreDNS's lowest TTL (dnsutil.MinimalDefaultTTL), seconds. */
export const MINIMAL_DEFAULT_TTL = 5;

/** response.Typify. `nowSeconds` is wall-clock Unix time, for RRSIG validity (checked when the reply has DO). */
export function typify(m: Message, nowSeconds: number): ReplyType {
  if (m.opcode === Opcode.UPDATE) return ReplyType.Update;
  if (m.opcode === Opcode.NOTIFY) return ReplyType.Meta;
  const q = m.questions[0];
  if (q && (q.type === RRType.AXFR || q.type === RRType.IXFR)) return ReplyType.Meta;
  if (m.edns?.do && hasExpiredSignature(m, nowSeconds)) return ReplyType.OtherError;

  if (m.answers.length > 0 && m.rcode === Rcode.NOERROR) return ReplyType.NoError;
  if (m.answers.length > 0 && m.rcode === Rcode.NXDOMAIN) return ReplyType.OtherError;
  let soa = false;
  let ns = 0;
  for (const r of m.authorities) {
    if (r.type === RRType.SOA) soa = true;
    else if (r.type === RRType.NS) ns++;
  }
  if (soa && m.rcode === Rcode.NOERROR) return ReplyType.NoData;
  if (m.rcode === Rcode.NXDOMAIN) return ReplyType.NameError;
  if (m.rcode === Rcode.SERVFAIL || m.rcode === Rcode.NOTIMP) return ReplyType.ServerError;
  if (ns > 0 && m.rcode === Rcode.NOERROR) return ReplyType.Delegation;
  if (m.rcode === Rcode.NOERROR) return ReplyType.NoError;
  return ReplyType.OtherError;
}

/**
 * The cache's classification (cacheResponseType): a NOERROR reply whose answer does not answer the
 * question (a CNAME chain that does not end in the asked type) but that carries an SOA is NODATA.
 */
export function cacheReplyType(m: Message, nowSeconds: number): ReplyType {
  const t = typify(m, nowSeconds);
  if (t === ReplyType.NoError && hasSoa(m) && isNoData(m)) return ReplyType.NoData;
  return t;
}

/**
 * Whether a reply of this type may be stored at all (the cache's key()): never truncated replies,
 * other errors, transfers, notifies or updates; NXDOMAIN only with an SOA to bound it; and not an
 * SOA-less NOERROR whose answer does not answer the question (RFC 2308 §5).
 */
export function storable(m: Message, t: ReplyType): boolean {
  if (m.tc) return false;
  if (t === ReplyType.OtherError || t === ReplyType.Meta || t === ReplyType.Update) return false;
  if (t === ReplyType.NameError && !hasSoa(m)) return false;
  if (t === ReplyType.NoError && !hasSoa(m) && isNoData(m)) return false;
  return true;
}

/**
 * dnsutil.MinimalTTLWithMaximum, in seconds: the lowest TTL of every record, at most `max`; 5 s for
 * replies that are not NOERROR/NXDOMAIN/NODATA or carry no record. For a denial, the SOA counts
 * with the smaller of its TTL and its MINIMUM field (RFC 2308 §5; the same as CoreDNS for servers
 * that follow RFC 2308 §3 and already send the SOA with that TTL).
 */
export function minimalTtl(m: Message, t: ReplyType, max: number): number {
  if (t !== ReplyType.NoError && t !== ReplyType.NameError && t !== ReplyType.NoData) return MINIMAL_DEFAULT_TTL;
  if (m.answers.length + m.authorities.length + m.additionals.length === 0) return MINIMAL_DEFAULT_TTL;
  const denial = t === ReplyType.NameError || t === ReplyType.NoData;
  let min = max;
  const scan = (rrs: ResourceRecord[]): void => {
    for (const r of rrs) {
      let ttl = r.ttl;
      if (denial && r.type === RRType.SOA && 'minimum' in r) ttl = Math.min(ttl, r.minimum);
      if (ttl < min) min = ttl;
    }
  };
  scan(m.answers);
  scan(m.authorities);
  scan(m.additionals);
  return min;
}

export function hasSoa(m: Message): boolean {
  for (const r of m.authorities) if (r.type === RRType.SOA) return true;
  return false;
}

/**
 * True when a NOERROR reply with a non-empty answer does not answer its question: following the
 * CNAME chain from the question name, no record of the asked type (any record at the name for
 * ANY; a single target for CNAME) is found. A malformed chain (two targets for one owner, a loop)
 * counts as not answering. An empty answer is not NODATA here (whoami answers in the additional
 * section and stays cacheable).
 */
export function isNoData(m: Message): boolean {
  if (m.answers.length === 0) return false;
  return !answersQuestion(m);
}

export function answersQuestion(m: Message): boolean {
  const q = m.questions[0];
  if (m.rcode !== Rcode.NOERROR || !q || m.answers.length === 0) return false;
  const classOk = (c: number): boolean => q.class === 255 || c === q.class;
  const name0 = asciiLower(q.name);
  if (q.type === RRType.ANY) return m.answers.some((r) => classOk(r.class) && asciiLower(r.name) === name0);
  const cnameTarget = (owner: string): string | null | undefined => {
    // undefined: no CNAME at owner; null: more than one distinct target
    let target: string | undefined;
    for (const r of m.answers) {
      if (r.type !== RRType.CNAME || !classOk(r.class) || asciiLower(r.name) !== owner || !('target' in r)) continue;
      const t = asciiLower(r.target);
      if (target !== undefined && target !== t) return null;
      target = t;
    }
    return target;
  };
  if (q.type === RRType.CNAME) {
    const t = cnameTarget(name0);
    return typeof t === 'string' && t !== '';
  }
  let name = name0;
  const seen = new Set<string>();
  for (;;) {
    if (seen.has(name)) return false; // loop
    seen.add(name);
    const t = cnameTarget(name);
    if (t === null) return false;
    if (t === undefined) break;
    name = t;
  }
  return m.answers.some((r) => r.type === q.type && classOk(r.class) && asciiLower(r.name) === name);
}

const YEAR68 = 2 ** 31;

function hasExpiredSignature(m: Message, now: number): boolean {
  for (const rrs of [m.answers, m.authorities, m.additionals]) {
    for (const r of rrs) {
      if (r.type !== RRType.RRSIG || !('raw' in r) || r.rdata.length < 16) continue;
      const d = r.rdata;
      const expiration = ((d[8]! << 24) >>> 0) + (d[9]! << 16) + (d[10]! << 8) + d[11]!;
      const inception = ((d[12]! << 24) >>> 0) + (d[13]! << 16) + (d[14]! << 8) + d[15]!;
      // miekg/dns RRSIG.ValidityPeriod: serial arithmetic (RFC 1982) around now
      const ti = inception + Math.trunc((inception - now) / YEAR68) * YEAR68;
      const te = expiration + Math.trunc((expiration - now) / YEAR68) * YEAR68;
      if (!(ti <= now && now <= te)) return true;
    }
  }
  return false;
}
