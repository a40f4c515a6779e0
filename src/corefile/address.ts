/**
 * Server block keys → zones and ports, as CoreDNS reads them (core/dnsserver/register.go
 * InspectServerBlocks, plugin.SplitHostPort, plugin/pkg/cidr):
 *
 *   [dns://]ZONE[:PORT]
 *
 * - The port is the text after the last `:` when it is a number; `10.0.0.0/8:53` and
 *   `fd00::/64:1053` therefore work, and `fd00::/64` has no port.
 * - A ZONE that parses as a CIDR is replaced by the reverse zones covering it, split on octet
 *   (IPv4) or nibble (IPv6) boundaries: `10.0.0.0/15` → `0.10.in-addr.arpa.`, `1.10.in-addr.arpa.`.
 * - Zones are lower-cased and fully qualified.
 *
 * CoreDNS accepts some keys that can only be mistakes (`example.org:abc` becomes the zone
 * `example.org:abc.`, `:53` fails deep inside with "zone is not a valid domain name"); we reject
 * those with a message that says what is wrong. The callers turn a KeyError into a ConfigError at
 * the key's line.
 */
import net from 'node:net';
import type { ServerAddress } from './types.js';

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

/** Transports CoreDNS knows that we do not serve. */
const UNSUPPORTED_SCHEMES = new Set(['tls', 'quic', 'grpc', 'https', 'https3', 'unix']);

/** Parses one server block key into the addresses it stands for (several for a CIDR key). */
export function parseServerKey(key: string): ServerAddress[] {
  let rest = key;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(key);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (UNSUPPORTED_SCHEMES.has(name)) {
      throw new KeyError(`scheme '${name}://' in key '${key}' is not supported: clusterdns serves plain DNS (dns://, UDP and TCP) only`);
    }
    if (name !== 'dns') throw new KeyError(`unknown scheme '${name}://' in key '${key}': only dns:// is supported`);
    rest = key.slice(scheme[0].length);
  }

  let port: number | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1 && colon === rest.length - 1) throw new KeyError(`key '${key}' ends with ':': expected a port after it`);
  if (colon !== -1) {
    const p = rest.slice(colon + 1);
    // Go's strconv.Atoi decides what CoreDNS takes for a port; a sign is a port attempt too.
    if (/^[+-]?[0-9]+$/.test(p)) {
      const n = Number(p);
      if (!/^[0-9]+$/.test(p) || !Number.isSafeInteger(n) || n < 1 || n > 65535) {
        throw new KeyError(`invalid port '${p}' in key '${key}': a port must be 1-65535`);
      }
      port = n;
      rest = rest.slice(0, colon);
    }
  }

  if (rest === '') {
    const suggestion = `${scheme ? scheme[0] : ''}.${port === undefined ? '' : `:${port}`}`;
    throw new KeyError(`key '${key}' has no zone: use '${suggestion}' for the root zone`);
  }
  if (rest.length > 255) throw new KeyError(`zone in key '${key}' is too long: ${rest.length} > 255`);

  if (rest.includes('/')) {
    return reverseZonesOf(rest, key).map((zone) => ({ zone, port, scheme: 'dns' as const }));
  }
  checkDomainName(rest, key);
  return [{ zone: normalizeZone(rest), port, scheme: 'dns' }];
}

/** Lower-cased and fully qualified. */
export function normalizeZone(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** miekg/dns IsDomainName (what CoreDNS checks), plus characters that only appear in a mistaken key. */
function checkDomainName(name: string, key: string): void {
  if (/[{}]/.test(name)) {
    throw new KeyError(`invalid key '${key}': '{' and '}' are braces only as words of their own (write '${key.replace(/[{}].*$/, '')} {' with a space)`);
  }
  const bad = /[\s,()":]/.exec(name);
  if (bad) {
    const ch = bad[0];
    const why =
      ch === ':'
        ? "':' may only separate a port (1-65535) or appear in an IPv6 CIDR such as fd00::/64"
        : ch === ','
          ? 'separate several keys with a space or ", "'
          : `'${ch}' cannot appear in a zone name`;
    throw new KeyError(`invalid zone '${name}' in key '${key}': ${why}`);
  }
  if (name === '.') return;
  if (name.startsWith('.')) throw new KeyError(`invalid zone '${name}' in key '${key}': a zone name cannot start with '.'`);
  let wire = 1;
  let label = 0;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (ch === '\\') {
      i += /^[0-9]{3}/.test(name.slice(i + 1, i + 4)) ? 3 : 1;
      label++;
      continue;
    }
    if (ch === '.') {
      if (label === 0) throw new KeyError(`invalid zone '${name}' in key '${key}': empty label ('..')`);
      if (label > 63) throw new KeyError(`invalid zone '${name}' in key '${key}': a label is longer than 63 characters`);
      wire += label + 1;
      label = 0;
      continue;
    }
    label++;
  }
  if (label > 63) throw new KeyError(`invalid zone '${name}' in key '${key}': a label is longer than 63 characters`);
  if (label > 0) wire += label + 1;
  if (wire > 255) throw new KeyError(`invalid zone '${name}' in key '${key}': the name is longer than 255 octets`);
}

/** Address bytes of a textual IPv4 (strict dotted decimal, as Go ≥1.17) or IPv6 address. */
function parseIp(text: string): Uint8Array | undefined {
  if (net.isIPv4(text)) {
    const parts = text.split('.');
    if (parts.some((p) => p.length > 1 && p.startsWith('0'))) return undefined;
    return Uint8Array.from(parts.map(Number));
  }
  if (!net.isIPv6(text) || text.includes('%')) return undefined;
  let head = text;
  let v4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const four = parseIp(text.slice(lastColon + 1));
    if (!four || four.length !== 4) return undefined;
    v4 = [...four];
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const words = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  if (words.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  if (v4.length === 4) bytes.set(v4, 12);
  return bytes;
}

/**
 * The reverse zones for a CIDR (plugin.SplitHostPort + cidr.Split + cidr.Reverse): the network is
 * split into subnets on a label boundary (8 bits for IPv4, 4 for IPv6) and each subnet's reverse
 * name is a zone.
 */
export function reverseZonesOf(cidr: string, key = cidr): string[] {
  const slash = cidr.indexOf('/');
  const ipText = cidr.slice(0, slash);
  const maskText = cidr.slice(slash + 1);
  const ip = parseIp(ipText);
  const bits = ip ? ip.length * 8 : 0;
  const ones = /^[0-9]{1,3}$/.test(maskText) ? Number(maskText) : -1;
  if (!ip || ones < 0 || ones > bits) {
    throw new KeyError(`invalid CIDR '${cidr}' in key '${key}': expected an address and a prefix length such as 10.0.0.0/8 or fd00::/64`);
  }
  // CoreDNS refuses these (they would make the whole IPv6 reverse tree, or an IPv4-mapped range, a zone).
  if (cidr.startsWith(':') || (cidr.startsWith('0') && cidr.includes(':'))) {
    throw new KeyError(`invalid CIDR '${cidr}' in key '${key}'`);
  }
  const v4 = ip.length === 4;
  const digit = v4 ? 8 : 4;
  let value = 0n;
  for (const b of ip) value = (value << 8n) | BigInt(b);
  const hostBits = BigInt(bits - ones);
  value = (value >> hostBits) << hostBits; // the network address
  const boundary = Math.ceil(ones / digit) * digit;
  const count = 1n << BigInt(boundary - ones);
  const step = 1n << BigInt(bits - boundary);
  const zones: string[] = [];
  for (let i = 0n; i < count; i++) {
    const subnet = value + i * step;
    const labels: string[] = [];
    for (let k = 0; k < boundary / digit; k++) {
      const shift = BigInt(bits - (k + 1) * digit);
      const part = Number((subnet >> shift) & ((1n << BigInt(digit)) - 1n));
      labels.push(v4 ? String(part) : part.toString(16));
    }
    labels.reverse();
    labels.push(v4 ? 'in-addr.arpa.' : 'ip6.arpa.');
    zones.push(labels.join('.'));
  }
  return zones;
}
