/**
 * Address helpers for the kubernetes store and lookup, on top of src/dns/names.ts: canonical text
 * plus family, with IPv4-mapped IPv6 treated as IPv4 the way Go's net.IP.To4 does in CoreDNS
 * (an "::ffff:10.0.0.1" endpoint is an A record for 10.0.0.1).
 */
import { canonicalIp as canonicalText, reverseNameToIp } from '../dns/names.js';

export interface CanonicalIp {
  /** "10.0.0.1", "fd00::1" (RFC 5952). */
  text: string;
  v6: boolean;
}

export function canonicalIp(s: string): CanonicalIp | undefined {
  const t = canonicalText(s);
  if (t === undefined) return undefined;
  if (t.startsWith('::ffff:') && t.includes('.')) return { text: t.slice(7), v6: false };
  // Keep the caller's string when it already is canonical: stores hold one copy, not two.
  return { text: t === s ? s : t, v6: t.includes(':') };
}

/** True when name ends in ".in-addr.arpa." or ".ip6.arpa." (CoreDNS's dnsutil.IsReverse). */
export function isReverseName(name: string): boolean {
  return name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.');
}

/** The canonical address of a complete reverse name; undefined for partial or malformed names. */
export function addressFromReverse(name: string): string | undefined {
  const ip = reverseNameToIp(name);
  return ip === undefined ? undefined : canonicalIp(ip)?.text;
}
