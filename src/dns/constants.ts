/** DNS wire constants (RFC 1035, 2782, 3596, 6891, 8482). Numbers, so they compare fast on the hot path. */

export const RRType = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33,
  NAPTR: 35, DNAME: 39, OPT: 41, DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, HTTPS: 65, SVCB: 64,
  IXFR: 251, AXFR: 252, MAILB: 253, MAILA: 254, ANY: 255, CAA: 257,
} as const;
export type RRTypeName = keyof typeof RRType;

export const RRClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
  YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10, BADVERS: 16,
} as const;

export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** UDP payload limits: RFC 1035 without EDNS; DNS Flag Day 2020 default cap with EDNS. */
export const UDP_SIZE_NO_EDNS = 512;
export const UDP_SIZE_DEFAULT_CAP = 1232;
export const UDP_SIZE_MAX = 4096;
export const MAX_NAME_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

const typeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));
const rcodeNames = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));
const classNames = new Map<number, string>(Object.entries(RRClass).map(([k, v]) => [v, k]));

/** "A", "SRV", or "TYPE65280" for types we have no name for (RFC 3597 presentation). */
export function typeToString(t: number): string {
  return typeNames.get(t) ?? `TYPE${t}`;
}
export function classToString(c: number): string {
  return classNames.get(c) ?? `CLASS${c}`;
}
export function rcodeToString(r: number): string {
  return rcodeNames.get(r) ?? `RCODE${r}`;
}
/** Parses "A", "aaaa", "TYPE65" into a type number; undefined when unknown. */
export function stringToType(s: string): number | undefined {
  const u = s.toUpperCase();
  const known = (RRType as Record<string, number>)[u];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(u);
  if (m && m[1] !== undefined) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}
export function stringToClass(s: string): number | undefined {
  const u = s.toUpperCase();
  const known = (RRClass as Record<string, number>)[u];
  if (known !== undefined) return known;
  const m = /^CLASS(\d{1,5})$/.exec(u);
  if (m && m[1] !== undefined) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}
