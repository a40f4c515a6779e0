/**
 * A set of IPv4 and IPv6 networks and the question "is this source address in it?". Pure.
 *
 * Networks are written as Go's net.ParseCIDR takes them ("10.0.0.0/8", "2001:db8::/32"; host bits
 * may be set and are ignored), or as a single address (a /32 or /128, as CoreDNS's acl normalises
 * them). A source address given as IPv4-mapped IPv6 ("::ffff:10.1.2.3", what a dual-stack socket
 * reports) is matched as the IPv4 address, as Go does; a zone index ("fe80::1%eth0") is ignored.
 */
import { parseIPv4, parseIPv6 } from '../../dns/names.js';

interface Net {
  bytes: Uint8Array;
  bits: number;
}

export class CidrSet {
  private readonly v4: Net[] = [];
  private readonly v6: Net[] = [];

  /** Adds a network or single address; false (nothing added) when it does not parse. */
  add(cidr: string): boolean {
    const n = parseCidr(cidr);
    if (!n) return false;
    (n.bytes.length === 4 ? this.v4 : this.v6).push(n);
    return true;
  }

  /** Every IPv4 and IPv6 address (`net *`). */
  addAll(): void {
    this.v4.push({ bytes: new Uint8Array(4), bits: 0 });
    this.v6.push({ bytes: new Uint8Array(16), bits: 0 });
  }

  /** True when the address lies in one of the networks. An address that does not parse is in none. */
  has(address: string): boolean {
    const ip = parseSourceAddress(address);
    return ip !== undefined && this.contains(ip);
  }

  /** `has` for an address already parsed by parseSourceAddress. */
  contains(ip: Uint8Array): boolean {
    for (const n of ip.length === 4 ? this.v4 : this.v6) if (inNet(ip, n)) return true;
    return false;
  }
}

/** "10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "::1" → bytes and prefix length; undefined when invalid. */
export function parseCidr(s: string): Net | undefined {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const bytes = parseIPv4(addr) ?? parseIPv6(addr);
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  let bits = max;
  if (slash >= 0) {
    const b = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(b)) return undefined;
    bits = Number(b);
    if (bits > max) return undefined;
  }
  return { bytes, bits };
}

/** A source address as bytes: 4 for IPv4 (including IPv4-mapped IPv6), 16 for IPv6. */
export function parseSourceAddress(address: string): Uint8Array | undefined {
  const pct = address.indexOf('%');
  const a = pct < 0 ? address : address.slice(0, pct);
  const v4 = parseIPv4(a);
  if (v4) return v4;
  const v6 = parseIPv6(a);
  if (!v6) return undefined;
  if (isV4Mapped(v6)) return v6.subarray(12);
  return v6;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function inNet(ip: Uint8Array, n: Net): boolean {
  const whole = n.bits >> 3;
  for (let i = 0; i < whole; i++) if (ip[i] !== n.bytes[i]) return false;
  const rest = n.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[whole]! & mask) === (n.bytes[whole]! & mask);
}
