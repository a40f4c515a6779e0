/**
 * Records as zone-file text, the way dig and miekg/dns print them:
 * "web.demo.svc.cluster.local.\t5\tIN\tA\t10.0.0.1". Tests write expected answers in this form
 * (as CoreDNS's test.Case does) and the `file` plugin reads zone files with parseRdata.
 */
import { classToString, RRClass, stringToClass, stringToType, typeToString } from './constants.js';
import { decodeMessage, DecodeError } from './decode.js';
import type { RecordData, ResourceRecord } from './message.js';
import { canonicalIp, formatIPv4, formatIPv6, isValidName, parseIPv4, parseIPv6 } from './names.js';

export class RRParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RRParseError';
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

const utf8 = new TextEncoder();

/** A character-string in quotes, escaped byte by byte as miekg/dns sprintTxt does. */
function quoteBytes(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) s += '\\' + String.fromCharCode(b);
    else if (b < 0x20 || b > 0x7e) s += '\\' + String(b).padStart(3, '0');
    else s += String.fromCharCode(b);
  }
  return s + '"';
}

function quote(text: string): string {
  return quoteBytes(utf8.encode(text));
}

/** The character-strings of raw RDATA, or undefined when the bytes do not split into them exactly. */
function splitStrings(rdata: Uint8Array): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < rdata.length) {
    const e = p + 1 + rdata[p]!;
    if (e > rdata.length) return undefined;
    out.push(rdata.subarray(p + 1, e));
    p = e;
  }
  return out;
}

function genericRdata(rdata: Uint8Array): string {
  return rdata.length === 0 ? '\\# 0' : `\\# ${rdata.length} ${Buffer.from(rdata).toString('hex')}`;
}

/** The RDATA part of a record's text. */
export function rdataToString(rr: RecordData): string {
  if ('raw' in rr) {
    // Known text types stay raw when their bytes are not UTF-8: print them as text anyway.
    if (rr.type === 16 || rr.type === 13) {
      const parts = splitStrings(rr.rdata);
      if (parts && parts.length > 0 && (rr.type === 16 || parts.length === 2)) return parts.map(quoteBytes).join(' ');
    }
    if (rr.type === 257 && rr.rdata.length >= 2) {
      const tl = rr.rdata[1]!;
      if (tl >= 1 && 2 + tl <= rr.rdata.length) {
        const tag = Buffer.from(rr.rdata.subarray(2, 2 + tl)).toString('latin1');
        if (/^[A-Za-z0-9]+$/.test(tag)) return `${rr.rdata[0]} ${tag} ${quoteBytes(rr.rdata.subarray(2 + tl))}`;
      }
    }
    return genericRdata(rr.rdata);
  }
  switch (rr.type) {
    case 1:
    case 28:
      return canonicalIp(rr.address) ?? rr.address;
    case 2:
    case 5:
    case 12:
    case 39:
      return rr.target;
    case 15:
      return `${rr.preference} ${rr.exchange}`;
    case 33:
      return `${rr.priority} ${rr.weight} ${rr.port} ${rr.target}`;
    case 16:
      return rr.strings.map(quote).join(' ');
    case 13:
      return `${quote(rr.cpu)} ${quote(rr.os)}`;
    case 6:
      return `${rr.mname} ${rr.rname} ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
    case 257:
      return `${rr.flags} ${rr.tag} ${quote(rr.value)}`;
    default:
      throw new RRParseError(`no presentation for type ${(rr as { type: number }).type} without raw RDATA`);
  }
}

/** "name\tTTL\tCLASS\tTYPE\tRDATA", as miekg/dns RR.String() (and so CoreDNS tests) write it. */
export function rrToString(rr: ResourceRecord): string {
  return `${rr.name}\t${rr.ttl}\t${classToString(rr.class)}\t${typeToString(rr.type)}\t${rdataToString(rr)}`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

/**
 * Splits zone-file text into tokens: whitespace separates, `"..."` is one token (quotes kept, so
 * parseRdata can tell "1" from 1), a backslash escapes the next character, `;` starts a comment,
 * and parentheses only group lines (they are dropped).
 */
export function tokenizeRR(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\' && i + 1 < text.length) {
        cur += text[++i]!;
      } else if (c === '"') {
        quoted = false;
      }
      continue;
    }
    if (c === '\\') {
      if (i + 1 >= text.length) throw new RRParseError('dangling backslash');
      cur += c + text[++i]!;
      inToken = true;
    } else if (c === '"') {
      cur += c;
      quoted = true;
      inToken = true;
    } else if (c === ';') {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '(' || c === ')') {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (quoted) throw new RRParseError('unterminated quoted string');
  if (inToken) out.push(cur);
  return out;
}

/** The bytes of a character-string token (quoted or not), with `\X` and `\DDD` escapes resolved. */
export function parseCharString(token: string): Uint8Array {
  let s = token;
  if (s.startsWith('"')) {
    if (s.length < 2 || !s.endsWith('"') || isEscapedAt(s, s.length - 1)) throw new RRParseError(`bad quoted string ${token}`);
    s = s.slice(1, -1);
  }
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) {
      const d = s.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new RRParseError(`bad escape \\${d} in ${token}`);
        bytes.push(v);
        i += 3;
        continue;
      }
      if (i + 1 >= s.length) throw new RRParseError(`dangling backslash in ${token}`);
      i++;
    }
    const cp = s.codePointAt(i)!;
    if (cp < 0x80) bytes.push(cp);
    else {
      for (const b of utf8.encode(String.fromCodePoint(cp))) bytes.push(b);
      if (cp > 0xffff) i++;
    }
  }
  return Uint8Array.from(bytes);
}

function isEscapedAt(s: string, i: number): boolean {
  let n = 0;
  for (let k = i - 1; k >= 0 && s[k] === '\\'; k--) n++;
  return n % 2 === 1;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function textOf(bytes: Uint8Array): string | undefined {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A name token made absolute: "@" is the origin, a name without a trailing dot is relative to it. */
export function resolveName(token: string, origin: string): string {
  let name: string;
  if (token === '@') name = origin;
  else if (token.endsWith('.') && !isEscapedAt(token, token.length - 1)) name = token;
  else name = origin === '.' ? `${token}.` : `${token}.${origin}`;
  if (!isValidName(name)) throw new RRParseError(`bad name ${token}`);
  return name;
}

function uint(token: string | undefined, max: number, what: string): number {
  if (token === undefined || !/^\d+$/.test(token)) throw new RRParseError(`bad ${what} ${token ?? '(missing)'}`);
  const v = Number(token);
  if (v > max) throw new RRParseError(`${what} ${token} out of range`);
  return v;
}

/** A TTL or SOA timer: seconds, or BIND units ("1h30m", "2d", "1W"). */
export function parseTtl(token: string | undefined, what = 'TTL'): number {
  if (token === undefined) throw new RRParseError(`missing ${what}`);
  if (/^\d+$/.test(token)) return uint(token, 0x7fffffff, what);
  const m = /^(?:\d+[smhdw])+$/i.exec(token);
  if (!m) throw new RRParseError(`bad ${what} ${token}`);
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  let total = 0;
  for (const [, n, u] of token.matchAll(/(\d+)([smhdw])/gi)) total += Number(n) * unit[u!.toLowerCase()]!;
  if (total > 0x7fffffff) throw new RRParseError(`${what} ${token} out of range`);
  return total;
}

function exactly(tokens: string[], n: number, type: number): void {
  if (tokens.length !== n) throw new RRParseError(`${typeToString(type)} needs ${n} RDATA fields, got ${tokens.length}`);
}

/** Character-strings as RDATA bytes (each up to 255 bytes; longer ones split as the encoder does). */
function stringsRdata(parts: Uint8Array[]): Uint8Array {
  const chunks: number[] = [];
  for (const p of parts) {
    if (p.length === 0) chunks.push(0);
    for (let i = 0; i < p.length; i += 255) {
      const c = p.subarray(i, i + 255);
      chunks.push(c.length, ...c);
    }
  }
  return Uint8Array.from(chunks);
}

/** RFC 3597 "\# len hex...": a known type is decoded as if it came off the wire. */
function parseGeneric(type: number, tokens: string[]): RecordData {
  const len = uint(tokens[1], 0xffff, 'RFC 3597 length');
  const hex = tokens.slice(2).join('');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex) || hex.length !== 2 * len) throw new RRParseError(`RFC 3597 data is not ${len} hex bytes`);
  const rdata = Uint8Array.from(Buffer.from(hex, 'hex'));
  if (type === 41) throw new RRParseError('OPT is not a zone-file record');
  // An answer record in an otherwise empty message: the decoder checks the RDATA of known types.
  const msg = Buffer.alloc(12 + 11 + len);
  msg[7] = 1;
  msg.writeUInt16BE(type, 13);
  msg.writeUInt16BE(1, 15);
  msg.writeUInt16BE(len, 21);
  msg.set(rdata, 23);
  try {
    const rr = decodeMessage(msg).answers[0]!;
    const { name: _n, class: _c, ttl: _t, ...data } = rr;
    return data as RecordData;
  } catch (e) {
    if (e instanceof DecodeError) throw new RRParseError(`bad RFC 3597 RDATA for ${typeToString(type)}: ${e.message}`);
    throw e;
  }
}

/**
 * The RDATA of `type` from its zone-file tokens (as tokenizeRR returns them); names are made
 * absolute against `origin`. Throws RRParseError.
 */
export function parseRdata(type: number, tokens: string[], origin: string): RecordData {
  if (tokens[0] === '\\#') return parseGeneric(type, tokens);
  switch (type) {
    case 1: {
      exactly(tokens, 1, type);
      const b = parseIPv4(tokens[0]!);
      if (!b) throw new RRParseError(`bad A address ${tokens[0]}`);
      return { type, address: formatIPv4(b) };
    }
    case 28: {
      exactly(tokens, 1, type);
      const b = parseIPv6(tokens[0]!);
      if (!b) throw new RRParseError(`bad AAAA address ${tokens[0]}`);
      return { type, address: formatIPv6(b) };
    }
    case 2:
    case 5:
    case 12:
    case 39:
      exactly(tokens, 1, type);
      return { type, target: resolveName(tokens[0]!, origin) };
    case 15:
      exactly(tokens, 2, type);
      return { type, preference: uint(tokens[0], 0xffff, 'MX preference'), exchange: resolveName(tokens[1]!, origin) };
    case 33:
      exactly(tokens, 4, type);
      return {
        type,
        priority: uint(tokens[0], 0xffff, 'SRV priority'),
        weight: uint(tokens[1], 0xffff, 'SRV weight'),
        port: uint(tokens[2], 0xffff, 'SRV port'),
        target: resolveName(tokens[3]!, origin),
      };
    case 16: {
      if (tokens.length === 0) throw new RRParseError('TXT needs at least one string');
      const parts = tokens.map(parseCharString);
      const texts = parts.map(textOf);
      if (texts.every((t): t is string => t !== undefined)) return { type, strings: texts };
      return { type, rdata: stringsRdata(parts), raw: true };
    }
    case 13: {
      exactly(tokens, 2, type);
      const parts = tokens.map(parseCharString);
      if (parts.some((p) => p.length > 255)) throw new RRParseError('HINFO string longer than 255 bytes');
      const [cpu, os] = parts.map(textOf);
      if (cpu !== undefined && os !== undefined) return { type, cpu, os };
      return { type, rdata: stringsRdata(parts), raw: true };
    }
    case 6:
      exactly(tokens, 7, type);
      return {
        type,
        mname: resolveName(tokens[0]!, origin),
        rname: resolveName(tokens[1]!, origin),
        serial: uint(tokens[2], 0xffffffff, 'SOA serial'),
        refresh: parseTtl(tokens[3], 'SOA refresh'),
        retry: parseTtl(tokens[4], 'SOA retry'),
        expire: parseTtl(tokens[5], 'SOA expire'),
        minimum: parseTtl(tokens[6], 'SOA minimum'),
      };
    case 257: {
      exactly(tokens, 3, type);
      const flags = uint(tokens[0], 0xff, 'CAA flags');
      const tag = tokens[1]!;
      if (!/^[A-Za-z0-9]{1,15}$/.test(tag)) throw new RRParseError(`bad CAA tag ${tag}`);
      const bytes = parseCharString(tokens[2]!);
      const value = textOf(bytes);
      if (value !== undefined) return { type, flags, tag, value };
      const rdata = new Uint8Array(2 + tag.length + bytes.length);
      rdata[0] = flags;
      rdata[1] = tag.length;
      rdata.set(Buffer.from(tag, 'latin1'), 2);
      rdata.set(bytes, 2 + tag.length);
      return { type, rdata, raw: true };
    }
    default:
      throw new RRParseError(`type ${typeToString(type)} needs RFC 3597 syntax (\\# length hex)`);
  }
}

export interface ParseRROptions {
  /** For "@" and relative names; default ".". */
  origin?: string;
  /** When the text has no TTL; default 3600 (miekg/dns). */
  defaultTtl?: number;
  /** When the text has no class; default IN. */
  defaultClass?: number;
}

/**
 * One record from zone-file text: `owner [TTL] [CLASS] TYPE RDATA` (TTL and class in either
 * order), e.g. "web.demo.svc.cluster.local. 5 IN A 10.0.0.1". Throws RRParseError.
 */
export function parseRR(text: string, opts: ParseRROptions = {}): ResourceRecord {
  const origin = opts.origin ?? '.';
  const tokens = tokenizeRR(text);
  if (tokens.length < 2) throw new RRParseError(`not a record: ${text}`);
  const name = resolveName(tokens[0]!, origin);
  let ttl: number | undefined;
  let klass: number | undefined;
  let i = 1;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (ttl === undefined && /^\d/.test(t)) {
      ttl = parseTtl(t);
      continue;
    }
    const c = klass === undefined ? stringToClass(t) : undefined;
    if (c !== undefined) {
      klass = c;
      continue;
    }
    break;
  }
  const typeToken = tokens[i];
  const type = typeToken === undefined ? undefined : stringToType(typeToken);
  if (type === undefined) throw new RRParseError(`unknown type ${typeToken ?? '(missing)'} in: ${text}`);
  const data = parseRdata(type, tokens.slice(i + 1), origin);
  return { name, class: klass ?? opts.defaultClass ?? RRClass.IN, ttl: ttl ?? opts.defaultTtl ?? 3600, ...data };
}
