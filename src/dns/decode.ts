/**
 * The general DNS message decoder: every section, every record type of message.ts, RFC 3597 raw
 * RDATA for the rest. The query hot path uses query-parser.ts instead; this one serves whatever that
 * rejects or does not cover (responses from upstreams, zone transfers, tests).
 *
 * Why our own and not a library (measurements in /work/shared/CODEC-NOTES.md):
 * - dns2 3.1.1 decodes an OPT TTL with the top bit set wrongly (the DO bit is that bit), drops empty
 *   labels, follows compression pointers without limit (4.4 s for one 65 KB pointer-chain packet),
 *   and reports malformed input in an `errors[]` array that is easy to forget to check.
 * - dns-packet 5.6.1 restarts reading at byte 0 when a read runs past the end (a 45-byte packet
 *   became 65,535 records), does not check RDLENGTH, and accepted 13k of 200k broken packets.
 *
 * So this decoder is strict and bounded: every read is checked against the end, RDLENGTH must equal
 * what a known type's RDATA used, a compression pointer must point strictly below the start of the
 * segment it was reached from (so a name's walk only moves backwards and always ends), at most 32
 * pointer hops and 255 wire bytes per name, OPT only once, only in the additional section, owned by
 * the root, and no trailing bytes. Any violation throws DecodeError; nothing else is thrown.
 */
import type { Edns, EdnsOption, Header, Message, Question, ResourceRecord } from './message.js';
import { formatIPv6, writeEscapedLabel } from './names.js';

export class DecodeError extends Error {
  constructor(
    message: string,
    /** The header, when the 12 header bytes were there: enough to send FORMERR with the right ID. */
    readonly header?: Header,
    /** Where in the message the problem was found. */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

const MAX_POINTER_HOPS = 32;

// Decoder state. Decoding is synchronous and not re-entrant, so module state is safe and saves
// passing a cursor object through every call.
const EMPTY = Buffer.alloc(0);
let b: Buffer = EMPTY;
let len = 0;
let hdr: Header | undefined;
let nameEnd = 0;
let edns: Edns | undefined;
let extRcode = 0;
// A name is at most 255 wire bytes; escaped as \DDD that is < 4 × 255 characters.
const nameScratch = Buffer.allocUnsafe(1024);

function fail(message: string, offset: number): never {
  throw new DecodeError(message, hdr, offset);
}

/** Reads the header flags; callers check that 12 bytes exist. */
export function readHeader(buf: Uint8Array): Header {
  const f1 = buf[2]!;
  const f2 = buf[3]!;
  return {
    id: (buf[0]! << 8) | buf[1]!,
    qr: (f1 & 0x80) !== 0,
    opcode: (f1 >> 3) & 0x0f,
    aa: (f1 & 0x04) !== 0,
    tc: (f1 & 0x02) !== 0,
    rd: (f1 & 0x01) !== 0,
    ra: (f2 & 0x80) !== 0,
    z: (f2 & 0x40) !== 0,
    ad: (f2 & 0x20) !== 0,
    cd: (f2 & 0x10) !== 0,
    rcode: f2 & 0x0f,
  };
}

// The suffix cache. For every label decoded in the current message: the finished name it is part
// of, where its suffix starts in that string, and the suffix's wire length and pointer hops. A
// pointer to a label already decoded then costs a lookup instead of a walk, which keeps the worst
// case (thousands of names each walking a 32-hop chain) well under a millisecond, and lets the
// usual answer owned by "pointer to the question" share the question's string. The cached walk is
// the one a fresh walk would make (same bytes, and it met stricter pointer limits), so caching
// changes no result.
// An entry is valid while its cacheStr slot is not '' (no name is empty: the root is '.'). The
// slots written for a message are emptied when it is done (strSlots), so no entry outlives its
// message, and decoded names are not kept alive by module state until another message happens to
// have a label at the same offset.
// The typed arrays cost memory only where written (their untouched pages stay unmapped); a JS
// array of 65536 strings is 512 KB from the start, so it grows with the longest message seen.
let cacheStr: string[] = new Array<string>(4096).fill('');
const strSlots = new Uint16Array(65536);
let nStr = 0;
const cacheIdx = new Uint16Array(65536);
const cacheWire = new Uint16Array(65536);
const cacheHops = new Uint8Array(65536);
// The labels of the name being read: offset, index in the output, wire length and hops before it.
const visOff = new Int32Array(128);
const visChar = new Int32Array(128);
const visWire = new Int32Array(128);
const visHops = new Int32Array(128);

/**
 * Reads the name at `start`; sets `nameEnd` to the offset after it in place (after the first
 * pointer, if any). Pointers may not reach into the header.
 */
function readName(start: number): string {
  let p = start;
  let limit = start;
  let hops = 0;
  let wire = 1;
  let n = 0;
  let end = -1;
  let v = 0;
  let tail = '';
  const s = nameScratch;
  for (;;) {
    if (p >= len) fail('name runs past the end of the message', p);
    const l = b[p]!;
    if (l === 0) {
      if (end < 0) end = p + 1;
      break;
    }
    if (l >= 0xc0) {
      if (p + 1 >= len) fail('compression pointer runs past the end of the message', p);
      const target = ((l & 0x3f) << 8) | b[p + 1]!;
      if (end < 0) end = p + 2;
      if (target >= limit || target < 12) fail('compression pointer does not point backwards', p);
      if (++hops > MAX_POINTER_HOPS) fail('too many compression pointers in one name', p);
      if (cacheStr[target] !== '') {
        hops += cacheHops[target]!;
        if (hops > MAX_POINTER_HOPS) fail('too many compression pointers in one name', p);
        wire += cacheWire[target]! - 1;
        if (wire > 255) fail('name longer than 255 bytes', p);
        const idx = cacheIdx[target]!;
        tail = idx === 0 ? cacheStr[target]! : cacheStr[target]!.slice(idx);
        break;
      }
      limit = target;
      p = target;
      continue;
    }
    if (l >= 0x40) fail('unsupported label type', p);
    visOff[v] = p;
    visChar[v] = n;
    visWire[v] = wire;
    visHops[v] = hops;
    v++;
    wire += l + 1;
    if (wire > 255) fail('name longer than 255 bytes', p);
    const e = p + 1 + l;
    if (e > len) fail('label runs past the end of the message', p);
    n = writeEscapedLabel(b, p + 1, e, s, n);
    s[n++] = 0x2e;
    p = e;
  }
  nameEnd = end;
  let name: string;
  if (n === 0) name = tail === '' ? '.' : tail;
  else name = tail === '' ? s.toString('latin1', 0, n) : s.toString('latin1', 0, n) + tail;
  for (let i = 0; i < v; i++) {
    const o = visOff[i]!;
    // Each offset is recorded once per message (a later walk may pass labels already cached), so
    // at most 65535 of them.
    if (cacheStr[o] === '') strSlots[nStr++] = o;
    cacheStr[o] = name;
    cacheIdx[o] = visChar[i]!;
    cacheWire[o] = wire - visWire[i]! + 1;
    cacheHops[o] = hops - visHops[i]!;
  }
  return name;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A character-string's text, or undefined when it is not valid UTF-8 (the record then stays raw). */
function utf8Text(start: number, end: number): string | undefined {
  // ASCII is the common case and needs no decoder.
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (b[i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return b.toString('latin1', start, end);
  try {
    return utf8.decode(b.subarray(start, end));
  } catch {
    return undefined;
  }
}

/** A copy as a plain Uint8Array (slice() of a Buffer would be a Buffer, and share nothing either way). */
function copyBytes(start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}

function u16(p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}
function u32(p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** Character-strings filling [p, end) exactly; undefined when one is not UTF-8. */
function readStrings(p: number, end: number): string[] | undefined {
  const out: string[] = [];
  while (p < end) {
    const l = b[p]!;
    const e = p + 1 + l;
    if (e > end) fail('character-string runs past RDATA', p);
    const t = utf8Text(p + 1, e);
    if (t === undefined) return undefined;
    out.push(t);
    p = e;
  }
  return out;
}

/**
 * A record of a known type, or undefined when it must travel raw (an unknown type, or text that is
 * not UTF-8). Each case builds its own literal: spreading a partial object in costs 20×.
 */
function readKnown(name: string, type: number, klass: number, ttl: number, p: number, rdlen: number): ResourceRecord | undefined {
  const end = p + rdlen;
  switch (type) {
    case 1:
      if (rdlen !== 4) fail('A RDATA is not 4 bytes', p);
      return { name, type, class: klass, ttl, address: `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}` };
    case 28:
      if (rdlen !== 16) fail('AAAA RDATA is not 16 bytes', p);
      return { name, type, class: klass, ttl, address: formatIPv6(b, p) };
    case 2:
    case 5:
    case 12:
    case 39: {
      const target = readName(p);
      if (nameEnd !== end) fail('RDLENGTH does not match the RDATA', p);
      return { name, type, class: klass, ttl, target };
    }
    case 15: {
      if (rdlen < 3) fail('MX RDATA too short', p);
      const preference = u16(p);
      const exchange = readName(p + 2);
      if (nameEnd !== end) fail('RDLENGTH does not match the RDATA', p);
      return { name, type, class: klass, ttl, preference, exchange };
    }
    case 33: {
      if (rdlen < 7) fail('SRV RDATA too short', p);
      const priority = u16(p);
      const weight = u16(p + 2);
      const port = u16(p + 4);
      const target = readName(p + 6);
      if (nameEnd !== end) fail('RDLENGTH does not match the RDATA', p);
      return { name, type, class: klass, ttl, priority, weight, port, target };
    }
    case 16: {
      const strings = readStrings(p, end);
      return strings && { name, type, class: klass, ttl, strings };
    }
    case 13: {
      const l1 = b[p]!;
      const e1 = p + 1 + l1;
      if (e1 >= end) fail('HINFO RDATA too short', p);
      const l2 = b[e1]!;
      if (e1 + 1 + l2 !== end) fail('RDLENGTH does not match the RDATA', p);
      const cpu = utf8Text(p + 1, e1);
      const os = utf8Text(e1 + 1, end);
      return cpu === undefined || os === undefined ? undefined : { name, type, class: klass, ttl, cpu, os };
    }
    case 6: {
      const mname = readName(p);
      const rname = readName(nameEnd);
      const q = nameEnd;
      if (q + 20 !== end) fail('RDLENGTH does not match the RDATA', p);
      return {
        name, type, class: klass, ttl, mname, rname,
        serial: u32(q), refresh: u32(q + 4), retry: u32(q + 8), expire: u32(q + 12), minimum: u32(q + 16),
      };
    }
    case 257: {
      if (rdlen < 2) fail('CAA RDATA too short', p);
      const flags = b[p]!;
      const tl = b[p + 1]!;
      if (tl === 0 || p + 2 + tl > end) fail('CAA tag length out of range', p);
      // RFC 8659 tags are 1..15 letters and digits; anything else stays raw so it re-encodes as sent.
      if (tl > 15) return undefined;
      for (let i = p + 2; i < p + 2 + tl; i++) {
        const c = b[i]!;
        const alnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
        if (!alnum) return undefined;
      }
      const tag = b.toString('latin1', p + 2, p + 2 + tl);
      const value = utf8Text(p + 2 + tl, end);
      return value === undefined ? undefined : { name, type, class: klass, ttl, flags, tag, value };
    }
    default:
      return undefined;
  }
}

/**
 * Known types whose RDATA cannot be empty. Empty RDATA of these (RFC 2136 deletions) stays raw
 * instead of failing; TXT is absent because miekg/dns writes a TXT without strings as RDLENGTH 0.
 */
const knownNonEmpty = new Set([1, 28, 2, 5, 12, 39, 15, 33, 13, 6, 257]);

function readRecord(p: number, section: 0 | 1 | 2, out: ResourceRecord[]): number {
  const name = readName(p);
  p = nameEnd;
  if (p + 10 > len) fail('record header runs past the end of the message', p);
  const type = u16(p);
  const klass = u16(p + 2);
  const ttlRaw = u32(p + 4);
  const rdlen = u16(p + 8);
  p += 10;
  const end = p + rdlen;
  if (end > len) fail('RDATA runs past the end of the message', p);
  if (type === 41) {
    if (section !== 2) fail('OPT record outside the additional section', p);
    if (name !== '.') fail('OPT record not owned by the root', p);
    if (edns !== undefined) fail('more than one OPT record', p);
    const options: EdnsOption[] = [];
    let q = p;
    while (q < end) {
      if (q + 4 > end) fail('EDNS option header runs past RDATA', q);
      const ol = u16(q + 2);
      if (q + 4 + ol > end) fail('EDNS option runs past RDATA', q);
      options.push({ code: u16(q), data: copyBytes(q + 4, q + 4 + ol) });
      q += 4 + ol;
    }
    edns = { udpSize: klass, version: (ttlRaw >>> 16) & 0xff, do: (ttlRaw & 0x8000) !== 0, options };
    extRcode = ttlRaw >>> 24;
    return end;
  }
  // RFC 2181 section 8: a TTL with the top bit set is treated as zero.
  const ttl = ttlRaw > 0x7fffffff ? 0 : ttlRaw;
  const rr = rdlen !== 0 || !knownNonEmpty.has(type) ? readKnown(name, type, klass, ttl, p, rdlen) : undefined;
  out.push(rr ?? { name, type, class: klass, ttl, rdata: copyBytes(p, end), raw: true });
  return end;
}

/**
 * Decodes a whole DNS message. Throws DecodeError (with `header` when 12 bytes were there) for
 * anything malformed; the result never shares memory with `input`.
 */
export function decodeMessage(input: Uint8Array): Message {
  if (input.length < 12) throw new DecodeError('message shorter than the 12-byte header', undefined, 0);
  b = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  len = b.length;
  if (len > cacheStr.length) cacheStr = new Array<string>(Math.min(65536, 2 ** Math.ceil(Math.log2(len)))).fill('');
  hdr = readHeader(b);
  edns = undefined;
  extRcode = 0;
  try {
    const qd = u16(4);
    const an = u16(6);
    const ns = u16(8);
    const ar = u16(10);
    // Each question takes at least 5 bytes and each record 11: reject impossible counts up front.
    if (12 + qd * 5 + (an + ns + ar) * 11 > len) fail('section counts exceed the message length', 4);
    let p = 12;
    const questions: Question[] = [];
    for (let i = 0; i < qd; i++) {
      const name = readName(p);
      p = nameEnd;
      if (p + 4 > len) fail('question runs past the end of the message', p);
      questions.push({ name, type: u16(p), class: u16(p + 2) });
      p += 4;
    }
    const answers: ResourceRecord[] = [];
    const authorities: ResourceRecord[] = [];
    const additionals: ResourceRecord[] = [];
    for (let i = 0; i < an; i++) p = readRecord(p, 0, answers);
    for (let i = 0; i < ns; i++) p = readRecord(p, 1, authorities);
    for (let i = 0; i < ar; i++) p = readRecord(p, 2, additionals);
    if (p !== len) fail(`${len - p} trailing bytes after the last record`, p);
    const h = hdr;
    // Spelled out: spreading `hdr` into a literal with more keys made this 20× slower (dictionary-mode object).
    const msg: Message = {
      id: h.id, qr: h.qr, opcode: h.opcode, aa: h.aa, tc: h.tc, rd: h.rd, ra: h.ra, z: h.z, ad: h.ad, cd: h.cd,
      rcode: (extRcode << 4) | h.rcode, questions, answers, authorities, additionals,
    };
    if (edns !== undefined) msg.edns = edns;
    return msg;
  } finally {
    // Do not keep the caller's buffer, nor the names read from it, alive through module state.
    for (let i = 0; i < nStr; i++) cacheStr[strSlots[i]!] = '';
    nStr = 0;
    b = EMPTY;
    hdr = undefined;
    edns = undefined;
  }
}
