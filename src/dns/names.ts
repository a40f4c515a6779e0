/**
 * Domain names as clusterdns handles them: presentation strings, absolute, with a trailing dot; the
 * root is ".". A label may hold any byte on the wire, so a name string uses the escapes miekg/dns
 * (and so CoreDNS and dig) print: `\.`, `\\`, `\ `, `\"`, `\(`, `\)`, `\;`, `\@`, `\'` and `\DDD` for
 * unprintable bytes. Names the decoder produces are always in that escaped, ASCII-only form, so one
 * name has one spelling up to ASCII case. Case-insensitivity is ASCII-only (RFC 4343).
 *
 * Also here: the IP address parsing and formatting the codec and the reverse zones share, because
 * `net.isIP` accepts forms we must reject (zone ids) and Node has no RFC 5952 formatter.
 */

/** Bytes printed as `\c` inside a label (miekg/dns isDomainNameLabelSpecial). */
function isLabelSpecial(c: number): boolean {
  // . space ' @ ; ( ) " backslash
  return c === 0x2e || c === 0x20 || c === 0x27 || c === 0x40 || c === 0x3b || c === 0x28 || c === 0x29 || c === 0x22 || c === 0x5c;
}

/**
 * True when `c` may appear in a name string as itself: a printable ASCII byte that needs no escape.
 * The encoder takes its fast path only for names made of these (plus dots).
 */
export function isPlainNameChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && !isLabelSpecial(c);
}

/** 1 for bytes that stand for themselves in a name string (isPlainNameChar), as a table for hot loops. */
export const PLAIN_NAME_BYTE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 128; c++) t[c] = isPlainNameChar(c) ? 1 : 0;
  return t;
})();

/**
 * Writes the presentation form of one wire label (bytes `start`..`end` of `src`) as ASCII bytes into
 * `out` from `n`, escaped like escapeLabel, and returns the new end. The decoders build name strings
 * with it in a byte buffer, which is faster than string concatenation per byte.
 */
export function writeEscapedLabel(src: Uint8Array, start: number, end: number, out: Uint8Array, n: number): number {
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (PLAIN_NAME_BYTE[c] === 1) {
      out[n++] = c;
    } else if (c > 0x20 && c < 0x7f) {
      out[n++] = 0x5c;
      out[n++] = c;
    } else if (c === 0x20) {
      out[n++] = 0x5c;
      out[n++] = 0x20;
    } else {
      out[n++] = 0x5c;
      out[n++] = 0x30 + ((c / 100) | 0);
      out[n++] = 0x30 + (((c / 10) | 0) % 10);
      out[n++] = 0x30 + (c % 10);
    }
  }
  return n;
}

const dddTable: string[] = Array.from({ length: 256 }, (_, i) => '\\' + String(i).padStart(3, '0'));

/** The presentation form of one wire label (bytes `start`..`end` of `buf`), escaped as miekg/dns does. */
export function escapeLabel(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c > 0x20 && c < 0x7f) {
      s += isLabelSpecial(c) ? '\\' + String.fromCharCode(c) : String.fromCharCode(c);
    } else if (c === 0x20) {
      s += '\\ ';
    } else {
      s += dddTable[c]!;
    }
  }
  return s;
}

/** Lower-cases ASCII letters only; returns `s` itself when nothing changes. */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return lowerFrom(s, i);
    if (c > 0x7f) return lowerFrom(s, i);
  }
  return s;
}

function lowerFrom(s: string, from: number): string {
  // toLowerCase would also fold non-ASCII letters (and can change the length), which DNS must not do.
  let ascii = true;
  for (let i = from; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.toLowerCase();
  let out = s.slice(0, from);
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : s[i]!;
  }
  return out;
}

/** Lower-case, absolute: "Web.Demo" → "web.demo.", "" and "." → ".". */
export function canonicalName(s: string): string {
  if (s === '' || s === '.') return '.';
  const l = asciiLower(s);
  return endsWithUnescapedDot(l) ? l : l + '.';
}

/** True when the last character is a dot that is not itself escaped ("a\." is not absolute). */
function endsWithUnescapedDot(s: string): boolean {
  if (s.charCodeAt(s.length - 1) !== 0x2e) return false;
  let n = 0;
  for (let i = s.length - 2; i >= 0 && s.charCodeAt(i) === 0x5c; i--) n++;
  return n % 2 === 0;
}

/**
 * True when `name` equals `zone` or lies below it. Both must be canonical (see canonicalName);
 * zone "." contains every name.
 */
export function isSubdomain(name: string, zone: string): boolean {
  if (zone === '.') return true;
  if (name.length < zone.length || !name.endsWith(zone)) return false;
  if (name.length === zone.length) return true;
  const dot = name.length - zone.length - 1;
  if (name.charCodeAt(dot) !== 0x2e) return false;
  // "a\.example.com." is one label "a.example" under "com.", not under "example.com."
  let n = 0;
  for (let i = dot - 1; i >= 0 && name.charCodeAt(i) === 0x5c; i--) n++;
  return n % 2 === 0;
}

/** The labels of a name, escapes kept: "web.demo." → ["web", "demo"]; "." → []. */
export function labels(name: string): string[] {
  if (name === '.' || name === '') return [];
  if (name.indexOf('\\') < 0) {
    const parts = name.split('.');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  }
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) {
      i++;
    } else if (c === 0x2e) {
      out.push(name.slice(start, i));
      start = i + 1;
    }
  }
  if (start < name.length) out.push(name.slice(start));
  return out;
}

/**
 * Joins labels and names into one absolute name: joinName("web", "demo", "svc.cluster.local.") →
 * "web.demo.svc.cluster.local.". Empty parts and "." are skipped, so joinName() is ".".
 */
export function joinName(...parts: string[]): string {
  let out = '';
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    out += endsWithUnescapedDot(p) ? p : p + '.';
  }
  return out === '' ? '.' : out;
}

/**
 * Parses a name string into its wire labels (without the root label). Returns undefined for a
 * malformed escape, an empty label, or a label over 63 bytes; a missing trailing dot is accepted.
 * Characters above U+007F become their UTF-8 bytes.
 */
export function nameToLabels(name: string): Uint8Array[] | undefined {
  if (name === '.') return [];
  if (name === '') return undefined;
  const out: Uint8Array[] = [];
  const label: number[] = [];
  const n = name.length;
  let i = 0;
  while (i < n) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label.length === 0 || label.length > 63) return undefined;
      out.push(Uint8Array.from(label));
      label.length = 0;
      i++;
      continue;
    }
    if (c === 0x5c) {
      const d0 = name.charCodeAt(i + 1);
      if (Number.isNaN(d0)) return undefined;
      if (d0 >= 0x30 && d0 <= 0x39) {
        const d1 = name.charCodeAt(i + 2);
        const d2 = name.charCodeAt(i + 3);
        if (!(d1 >= 0x30 && d1 <= 0x39 && d2 >= 0x30 && d2 <= 0x39)) return undefined;
        const v = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
        if (v > 255) return undefined;
        label.push(v);
        i += 4;
        continue;
      }
      if (d0 > 0x7f) {
        i += 1; // an escaped non-ASCII character is just that character
        continue;
      }
      label.push(d0);
      i += 2;
      continue;
    }
    if (c < 0x80) {
      label.push(c);
      i++;
      continue;
    }
    const cp = name.codePointAt(i)!;
    const bytes = Buffer.from(String.fromCodePoint(cp), 'utf8');
    for (const b of bytes) label.push(b);
    i += cp > 0xffff ? 2 : 1;
  }
  if (label.length > 0) {
    if (label.length > 63) return undefined;
    out.push(Uint8Array.from(label));
  }
  return out;
}

/** Uncompressed wire length of a list of labels, root byte included. */
export function labelsWireLength(ls: readonly Uint8Array[]): number {
  let n = 1;
  for (const l of ls) n += l.length + 1;
  return n;
}

/** True when `name` can go on the wire: valid escapes, labels of 1..63 bytes, at most 255 bytes in all. */
export function isValidName(name: string): boolean {
  const ls = nameToLabels(name);
  return ls !== undefined && labelsWireLength(ls) <= 255;
}

// ---------------------------------------------------------------------------------------------
// IP addresses

/** Parses dotted-quad IPv4 (no leading zeros, as Go's net.ParseIP) into out[off..off+4). */
export function writeIPv4(s: string, out: Uint8Array, off: number): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let part = 0;
  let v = 0;
  let digits = 0;
  let first = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      if (digits > 1 && first === 0x30) return false;
      out[off + part] = v;
      part++;
      v = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits === 0) first = c;
      v = v * 10 + (c - 0x30);
      digits++;
      if (v > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

export function parseIPv4(s: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return writeIPv4(s, out, 0) ? out : undefined;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Parses an IPv6 address (RFC 4291 text forms: "::", embedded dotted IPv4 as in "::ffff:1.2.3.4")
 * into out[off..off+16). Zone ids ("fe80::1%eth0") are rejected: they have no meaning on the wire.
 */
export function writeIPv6(s: string, out: Uint8Array, off: number): boolean {
  const n = s.length;
  if (n < 2 || n > 45) return false;
  const groups: number[] = [];
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      out.fill(0, off, off + 16);
      return true;
    }
  }
  for (;;) {
    // one group: hex digits, or a dotted IPv4 as the final 32 bits
    let v = 0;
    let d = 0;
    const start = i;
    while (i < n && d <= 4) {
      const h = hexVal(s.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      d++;
      i++;
    }
    if (i < n && s.charCodeAt(i) === 0x2e) {
      const tmp = new Uint8Array(4);
      if (!writeIPv4(s.slice(start), tmp, 0)) return false;
      groups.push((tmp[0]! << 8) | tmp[1]!, (tmp[2]! << 8) | tmp[3]!);
      i = n;
      break;
    }
    if (d === 0 || d > 4) return false;
    groups.push(v);
    if (i === n) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = groups.length;
      i++;
      if (i === n) break;
    } else if (i === n) {
      return false; // a trailing single colon
    }
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return false;
  const fill = 8 - groups.length;
  let g = 0;
  for (let k = 0; k < 8; k++) {
    let v = 0;
    if (gap >= 0 && k >= gap && k < gap + fill) v = 0;
    else v = groups[g++]!;
    out[off + 2 * k] = v >> 8;
    out[off + 2 * k + 1] = v & 0xff;
  }
  return true;
}

export function parseIPv6(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  return writeIPv6(s, out, 0) ? out : undefined;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text: lower-case, the longest run (≥ 2) of zero groups as "::", IPv4-mapped as "::ffff:a.b.c.d". */
export function formatIPv6(b: Uint8Array, off = 0): string {
  let mapped = b[off + 10] === 0xff && b[off + 11] === 0xff;
  for (let k = 0; k < 10 && mapped; k++) if (b[off + k] !== 0) mapped = false;
  if (mapped) return '::ffff:' + formatIPv4(b, off + 12);
  const g: number[] = [];
  for (let k = 0; k < 8; k++) g.push((b[off + 2 * k]! << 8) | b[off + 2 * k + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (g[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && g[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return head + '::' + tail;
}

/** The canonical text of an IP address (dotted quad, or RFC 5952), or undefined when `ip` is not one. */
export function canonicalIp(ip: string): string | undefined {
  const v4 = parseIPv4(ip);
  if (v4) return formatIPv4(v4);
  const v6 = parseIPv6(ip);
  return v6 ? formatIPv6(v6) : undefined;
}

const hexDigits = '0123456789abcdef';

/** "10.0.0.1" → "1.0.0.10.in-addr.arpa."; IPv6 → 32 nibble labels under ip6.arpa.; undefined for a non-IP. */
export function ipToReverseName(ip: string): string | undefined {
  const v4 = parseIPv4(ip);
  if (v4) return `${v4[3]}.${v4[2]}.${v4[1]}.${v4[0]}.in-addr.arpa.`;
  const v6 = parseIPv6(ip);
  if (!v6) return undefined;
  let s = '';
  for (let k = 15; k >= 0; k--) {
    const byte = v6[k]!;
    s += hexDigits[byte & 0xf]! + '.' + hexDigits[byte >> 4]! + '.';
  }
  return s + 'ip6.arpa.';
}

/**
 * The address a reverse name stands for ("1.0.0.10.in-addr.arpa." → "10.0.0.1"), in canonical text.
 * Undefined unless the name is a complete address: 4 decimal labels, or 32 single-hex-digit labels.
 */
export function reverseNameToIp(name: string): string | undefined {
  const n = canonicalName(name);
  if (n.endsWith('.in-addr.arpa.')) {
    const ls = n.slice(0, -'.in-addr.arpa.'.length).split('.');
    if (ls.length !== 4) return undefined;
    return canonicalIpv4Of(`${ls[3]}.${ls[2]}.${ls[1]}.${ls[0]}`);
  }
  if (n.endsWith('.ip6.arpa.')) {
    const ls = n.slice(0, -'.ip6.arpa.'.length).split('.');
    if (ls.length !== 32) return undefined;
    const out = new Uint8Array(16);
    for (let k = 0; k < 32; k++) {
      const l = ls[31 - k]!;
      if (l.length !== 1) return undefined;
      const h = hexVal(l.charCodeAt(0));
      if (h < 0) return undefined;
      out[k >> 1] = (k & 1) === 0 ? h << 4 : out[k >> 1]! | h;
    }
    return formatIPv6(out);
  }
  return undefined;
}

function canonicalIpv4Of(s: string): string | undefined {
  const b = parseIPv4(s);
  return b ? formatIPv4(b) : undefined;
}

/**
 * The label CoreDNS derives from an address for endpoint and pod names: "10.0.0.1" → "10-0-0-1",
 * "fd00::1" → "fd00--1", and a trailing "-" gets a "0" ("fd00::" → "fd00--0") because a label may
 * not end in a dash. Like CoreDNS, the text is used as given (lower-cased), not re-canonicalised.
 * Returns "" when `ip` contains neither "." nor ":".
 */
export function dashedIp(ip: string): string {
  if (ip.includes('.')) return ip.replaceAll('.', '-');
  if (ip.includes(':')) {
    const d = ip.toLowerCase().replaceAll(':', '-');
    return d.endsWith('-') ? d + '0' : d;
  }
  return '';
}

/**
 * The inverse, as CoreDNS's pod lookup does: three dashes and no "--" is IPv4, anything else IPv6.
 * Returns the canonical address text, or undefined when the label is not an address.
 */
export function dashedToIp(label: string): string | undefined {
  let dashes = 0;
  for (let i = 0; i < label.length; i++) if (label.charCodeAt(i) === 0x2d) dashes++;
  if (dashes === 3 && !label.includes('--')) return canonicalIpv4Of(label.replaceAll('-', '.'));
  const v6 = parseIPv6(label.replaceAll('-', ':'));
  return v6 ? formatIPv6(v6) : undefined;
}

/**
 * Offset just after the wire-format name at `p` (labels ending in a root label or a compression
 * pointer, which is not followed); -1 when it runs off the end or has a bad label length. The
 * walkers that read records in place (cache, loadbalance) use it to step over owner names.
 */
export function skipWireName(w: Uint8Array, p: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (p >= w.length) return -1;
    const l = w[p]!;
    if (l === 0) return p + 1;
    if ((l & 0xc0) === 0xc0) return p + 2 <= w.length ? p + 2 : -1;
    if (l > 63) return -1;
    p += 1 + l;
  }
  return -1;
}
