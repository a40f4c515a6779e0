/**
 * The DNS message encoder, with name compression, and the scrub step that fits a reply into the
 * client's buffer (CoreDNS's request.Scrub → miekg/dns Msg.Truncate).
 *
 * Why our own and not a library (measurements in /work/shared/CODEC-NOTES.md):
 * - dns2 3.1.1 corrupts the packet for TXT strings over 255 bytes, mis-encodes AAAA written as
 *   "::ffff:a.b.c.d", silently drops empty labels, does not range-check SRV ports, and manages
 *   55k–80k encodes/s of a 1-record answer.
 * - dns-packet 5.6.1 does not compress names at all (10 A records: 475 bytes instead of 215, so a
 *   1232-byte reply holds 28 addresses instead of 73) and writes corrupt packets for a label over
 *   63 bytes, a name over 255, or a bad IPv4 instead of refusing them.
 *
 * Every name and value is checked; anything that cannot go on the wire throws EncodeError.
 *
 * Measured with `node --import tsx bench/codec.ts --dos` (Node 20.20.2, shared 2-vCPU box; ops per
 * CPU-second, median of 7 rounds; ours vs dns2 3.1.1):
 *   decode dig query (A + EDNS + cookie), decodeMessage   1.44M  vs 365k   (3.9×)
 *   decode dig query, parseQuery hot path                 2.81M  vs 391k   (7.2×; 3.5M in a loop of its own)
 *   encode 1 A + OPT                                      1.17M  vs 59k    (20×)
 *   encode 10 A, one name (compressed, 204 bytes)         708k   vs 18k    (39×)
 *   decode that 10 A answer                               741k   vs 52k    (14×)
 *   instantiate a wire template (1 A, query with EDNS)    3.91M  vs 57k    (68×, dns2 encoding instead)
 *   parseQuery + instantiate, the full hot path           1.52M  vs 50k    (30×, dns2 parse+build+encode)
 *   65 KB packet, 5,449 names each walking 32 pointer hops: decodeMessage 0.96 ms (dns2 60 ms)
 *   65 KB packet, 16,000 chained bare pointers: refused in 0.2 ms (dns2 2.6 s)
 */
import type { Edns, Message, ResourceRecord } from './message.js';
import { asciiLower, escapeLabel, nameToLabels, PLAIN_NAME_BYTE, writeIPv4, writeIPv6 } from './names.js';

export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncodeError';
  }
}

const MAX_MESSAGE = 65535;
/** Offsets at or above this cannot be the target of a 14-bit compression pointer. */
const MAX_POINTER_TARGET = 0x3fff;

// One scratch buffer for every encode: encoding is synchronous, so it is never shared. The slack
// lets fixed-size fields be written before the size check that follows each record.
const scratch = Buffer.allocUnsafe(MAX_MESSAGE + 2048);
let off = 0;
// The compression table: every name suffix written so far at an offset a pointer can reach, as
// (key string, index where the suffix starts in it, message offset), chained by suffix length.
// Keys are the lower-cased canonical spelling, so matching is case-insensitive and escape-blind.
// A Map keyed by suffix strings cost a fresh slice and hash per label and was 3× slower.
const MAX_ENTRIES = MAX_POINTER_TARGET + 1;
const entKey: string[] = [];
const entStart = new Int32Array(MAX_ENTRIES);
const entOff = new Int32Array(MAX_ENTRIES);
const entNext = new Int32Array(MAX_ENTRIES);
const head = new Int32Array(256);
let entries = 0;

function resetCompression(): void {
  head.fill(-1);
  entries = 0;
}

/** Offset of an earlier occurrence of key[start..], or -1. */
function findSuffix(key: string, start: number): number {
  const len = key.length - start;
  for (let e = head[len & 255]!; e >= 0; e = entNext[e]!) {
    const k = entKey[e]!;
    const ks = entStart[e]!;
    if (k.length - ks !== len) continue;
    if (k === key && ks === start) return entOff[e]!;
    let i = 0;
    while (i < len && k.charCodeAt(ks + i) === key.charCodeAt(start + i)) i++;
    if (i === len) return entOff[e]!;
  }
  return -1;
}

function addSuffix(key: string, start: number, at: number): void {
  if (at > MAX_POINTER_TARGET || entries >= MAX_ENTRIES) return;
  const e = entries++;
  const slot = (key.length - start) & 255;
  entKey[e] = key;
  entStart[e] = start;
  entOff[e] = at;
  entNext[e] = head[slot]!;
  head[slot] = e;
}

/** Thrown when the message outgrows 64 KB; encodeTruncated turns it into "the rest does not fit". */
class MessageTooLarge extends EncodeError {}

function tooLarge(): never {
  throw new MessageTooLarge(`message longer than ${MAX_MESSAGE} bytes`);
}

function writeU16(v: number): void {
  scratch[off] = v >> 8;
  scratch[off + 1] = v & 0xff;
  off += 2;
}

function writeU32(v: number): void {
  scratch[off] = v >>> 24;
  scratch[off + 1] = (v >>> 16) & 0xff;
  scratch[off + 2] = (v >>> 8) & 0xff;
  scratch[off + 3] = v & 0xff;
  off += 4;
}

function u8(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) throw new EncodeError(`${what} ${String(v)} is not 0..255`);
  return v;
}
function u16(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) throw new EncodeError(`${what} ${String(v)} is not 0..65535`);
  return v;
}
function u32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new EncodeError(`${what} ${String(v)} is not 0..4294967295`);
  return v;
}

/**
 * Writes `name` at `off`. With `compress`, the longest suffix already in the message becomes a
 * pointer; either way the suffixes written here become targets for later names (as miekg/dns does
 * for SRV targets, which RFC 2782 forbids compressing but nothing forbids pointing into).
 */
function writeName(name: unknown, compress: boolean): void {
  if (typeof name !== 'string') throw new EncodeError(`name ${String(name)} is not a string`);
  const n = name.length;
  if (n === 1 && name === '.') {
    scratch[off++] = 0;
    return;
  }
  if (compress) {
    // Keys are only ever stored for names already validated, so a name that equals a stored key
    // (the usual case: an answer owned by the question name) needs no scan.
    const ptr = findSuffix(name, 0);
    if (ptr >= 0) {
      scratch[off++] = 0xc0 | (ptr >> 8);
      scratch[off++] = ptr & 0xff;
      return;
    }
  }
  let upper = false;
  let fast = n > 1 && n < 255 && name.charCodeAt(n - 1) === 0x2e;
  if (fast) {
    for (let i = 0; i < n; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) continue;
      if (c > 0x7f || PLAIN_NAME_BYTE[c] === 0) {
        fast = false;
        break;
      }
      if (c >= 0x41 && c <= 0x5a) upper = true;
    }
  }
  if (!fast) {
    writeNameSlow(name, compress);
    return;
  }
  // Plain names are their own canonical spelling, so the lower-cased text is the compression key.
  const key = upper ? name.toLowerCase() : name;
  let start = 0;
  while (start < n) {
    const ptr = findSuffix(key, start);
    if (ptr >= 0) {
      if (compress) {
        scratch[off++] = 0xc0 | (ptr >> 8);
        scratch[off++] = ptr & 0xff;
        return;
      }
    } else {
      addSuffix(key, start, off);
    }
    const dot = name.indexOf('.', start);
    const l = dot - start;
    if (l === 0) throw new EncodeError(`empty label in name "${name}"`);
    if (l > 63) throw new EncodeError(`label longer than 63 bytes in name "${name}"`);
    scratch[off++] = l;
    for (let i = start; i < dot; i++) scratch[off++] = name.charCodeAt(i);
    start = dot + 1;
  }
  scratch[off++] = 0;
}

/** Names with escapes or non-ASCII text: parse into wire labels, key on the canonical spelling. */
function writeNameSlow(name: string, compress: boolean): void {
  if (name === '') throw new EncodeError('empty name');
  if (!isAbsolute(name)) throw new EncodeError(`name "${name}" is not fully qualified`);
  const ls = nameToLabels(name);
  if (ls === undefined) throw new EncodeError(`invalid name "${name}": empty label, label over 63 bytes or bad escape`);
  let wire = 1;
  for (const l of ls) wire += l.length + 1;
  if (wire > 255) throw new EncodeError(`name "${name}" longer than 255 bytes`);
  const keys = ls.map((l) => asciiLower(escapeLabel(l, 0, l.length)));
  const key = keys.join('.') + '.';
  let start = 0;
  for (let i = 0; i < ls.length; i++) {
    const ptr = findSuffix(key, start);
    if (ptr >= 0) {
      if (compress) {
        scratch[off++] = 0xc0 | (ptr >> 8);
        scratch[off++] = ptr & 0xff;
        return;
      }
    } else {
      addSuffix(key, start, off);
    }
    start += keys[i]!.length + 1;
    const l = ls[i]!;
    scratch[off++] = l.length;
    scratch.set(l, off);
    off += l.length;
  }
  scratch[off++] = 0;
}

function isAbsolute(s: string): boolean {
  if (s.charCodeAt(s.length - 1) !== 0x2e) return false;
  let k = 0;
  for (let i = s.length - 2; i >= 0 && s.charCodeAt(i) === 0x5c; i--) k++;
  return k % 2 === 0;
}

function writeBytes(data: Uint8Array): void {
  if (off + data.length > MAX_MESSAGE) tooLarge();
  scratch.set(data, off);
  off += data.length;
}

/** One character-string; ASCII is written directly, other text as UTF-8. */
function characterString(s: unknown, what: string): void {
  if (typeof s !== 'string') throw new EncodeError(`${what} is not a string`);
  if (s.length <= 255 && isAscii(s)) {
    scratch[off++] = s.length;
    for (let i = 0; i < s.length; i++) scratch[off++] = s.charCodeAt(i);
    return;
  }
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length > 255) throw new EncodeError(`${what} longer than 255 bytes`);
  scratch[off++] = bytes.length;
  writeBytes(bytes);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** TXT strings: anything over 255 bytes is split into 255-byte character-strings (RFC 7208 3.3). */
function txtStrings(strings: unknown): void {
  if (!Array.isArray(strings)) throw new EncodeError('TXT strings is not an array');
  for (const s of strings) {
    if (typeof s !== 'string') throw new EncodeError('TXT string is not a string');
    if (s.length <= 255 && isAscii(s)) {
      if (off + 1 + s.length > MAX_MESSAGE) tooLarge();
      scratch[off++] = s.length;
      for (let i = 0; i < s.length; i++) scratch[off++] = s.charCodeAt(i);
      continue;
    }
    const bytes = Buffer.from(s, 'utf8');
    if (off + bytes.length + Math.ceil(bytes.length / 255) > MAX_MESSAGE) tooLarge();
    for (let p = 0; p < bytes.length; p += 255) {
      const chunk = bytes.subarray(p, Math.min(p + 255, bytes.length));
      scratch[off++] = chunk.length;
      scratch.set(chunk, off);
      off += chunk.length;
    }
  }
}

function writeRdata(rr: ResourceRecord): void {
  if ('raw' in rr) {
    if (!(rr.rdata instanceof Uint8Array)) throw new EncodeError(`raw RDATA of type ${rr.type} is not bytes`);
    writeBytes(rr.rdata);
    return;
  }
  switch (rr.type) {
    case 1:
      if (typeof rr.address !== 'string' || !writeIPv4(rr.address, scratch, off)) {
        throw new EncodeError(`A address "${String(rr.address)}" is not an IPv4 address`);
      }
      off += 4;
      return;
    case 28:
      if (typeof rr.address !== 'string' || !writeIPv6(rr.address, scratch, off)) {
        throw new EncodeError(`AAAA address "${String(rr.address)}" is not an IPv6 address`);
      }
      off += 16;
      return;
    case 2:
    case 5:
    case 12:
      writeName(rr.target, true);
      return;
    case 39:
      // RFC 6672: the DNAME target must not be compressed.
      writeName(rr.target, false);
      return;
    case 15:
      writeU16(u16(rr.preference, 'MX preference'));
      writeName(rr.exchange, true);
      return;
    case 33:
      writeU16(u16(rr.priority, 'SRV priority'));
      writeU16(u16(rr.weight, 'SRV weight'));
      writeU16(u16(rr.port, 'SRV port'));
      // RFC 2782: "name compression is not to be used for this field".
      writeName(rr.target, false);
      return;
    case 16:
      txtStrings(rr.strings);
      return;
    case 13:
      characterString(rr.cpu, 'HINFO cpu');
      characterString(rr.os, 'HINFO os');
      return;
    case 6:
      writeName(rr.mname, true);
      writeName(rr.rname, true);
      writeU32(u32(rr.serial, 'SOA serial'));
      writeU32(u32(rr.refresh, 'SOA refresh'));
      writeU32(u32(rr.retry, 'SOA retry'));
      writeU32(u32(rr.expire, 'SOA expire'));
      writeU32(u32(rr.minimum, 'SOA minimum'));
      return;
    case 257: {
      scratch[off++] = u8(rr.flags, 'CAA flags');
      const tag = rr.tag;
      if (typeof tag !== 'string' || !/^[A-Za-z0-9]{1,15}$/.test(tag)) throw new EncodeError(`CAA tag "${String(tag)}" is not 1..15 letters and digits`);
      scratch[off++] = tag.length;
      for (let i = 0; i < tag.length; i++) scratch[off++] = tag.charCodeAt(i);
      if (typeof rr.value !== 'string') throw new EncodeError('CAA value is not a string');
      writeBytes(Buffer.from(rr.value, 'utf8'));
      return;
    }
    default:
      throw new EncodeError(`type ${(rr as { type: number }).type} needs raw RDATA`);
  }
}

function writeRecord(rr: ResourceRecord): void {
  if (off > MAX_MESSAGE) tooLarge();
  writeName(rr.name, true);
  const type = u16(rr.type, 'type');
  if (type === 41) throw new EncodeError('OPT belongs in msg.edns, not in a record section');
  writeU16(type);
  writeU16(u16(rr.class, 'class'));
  const ttl = rr.ttl;
  // RFC 2181 section 8: TTLs are 31-bit; a receiver reads a larger one as 0.
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) throw new EncodeError(`TTL ${String(ttl)} is not 0..2147483647`);
  writeU32(ttl);
  const lenAt = off;
  off += 2;
  writeRdata(rr);
  if (off > MAX_MESSAGE) tooLarge();
  const rdlen = off - lenAt - 2;
  if (rdlen > 0xffff) throw new EncodeError('RDATA longer than 65535 bytes');
  scratch[lenAt] = rdlen >> 8;
  scratch[lenAt + 1] = rdlen & 0xff;
}

function optLength(e: Edns): number {
  let n = 11;
  for (const o of e.options) n += 4 + o.data.length;
  return n;
}

function writeOpt(e: Edns, rcode: number, withOptions: boolean): void {
  if (off + 11 > MAX_MESSAGE) tooLarge();
  scratch[off++] = 0;
  writeU16(41);
  writeU16(u16(e.udpSize, 'EDNS UDP size'));
  scratch[off++] = rcode >> 4;
  scratch[off++] = u8(e.version, 'EDNS version');
  scratch[off++] = e.do ? 0x80 : 0;
  scratch[off++] = 0;
  const lenAt = off;
  off += 2;
  if (withOptions) {
    for (const o of e.options) {
      if (off + 4 > MAX_MESSAGE) tooLarge();
      writeU16(u16(o.code, 'EDNS option code'));
      writeU16(u16(o.data.length, 'EDNS option length'));
      writeBytes(o.data);
    }
  }
  const rdlen = off - lenAt - 2;
  if (rdlen > 0xffff) throw new EncodeError('OPT RDATA longer than 65535 bytes');
  scratch[lenAt] = rdlen >> 8;
  scratch[lenAt + 1] = rdlen & 0xff;
}

function count(list: readonly unknown[], what: string): number {
  if (list.length > 0xffff) throw new EncodeError(`more than 65535 ${what}`);
  return list.length;
}

/**
 * Header, questions and records into the scratch buffer (no OPT). Returns the offset after the
 * questions; `ends`, when given, receives the offset after each record in section order, and
 * writing stops after the first record that ends beyond `stopAt` (the rest cannot fit anyway).
 */
function writeBody(msg: Message, ends: number[] | undefined, stopAt = MAX_MESSAGE): number {
  off = 0;
  resetCompression();
  const rcode = msg.rcode;
  if (typeof rcode !== 'number' || !Number.isInteger(rcode) || rcode < 0 || rcode > 0xfff) throw new EncodeError(`rcode ${String(rcode)} is not 0..4095`);
  if (rcode > 15 && msg.edns === undefined) throw new EncodeError(`rcode ${rcode} needs EDNS`);
  const opcode = msg.opcode;
  if (typeof opcode !== 'number' || !Number.isInteger(opcode) || opcode < 0 || opcode > 15) throw new EncodeError(`opcode ${String(opcode)} is not 0..15`);
  writeU16(u16(msg.id, 'ID'));
  scratch[off++] = (msg.qr ? 0x80 : 0) | (opcode << 3) | (msg.aa ? 0x04 : 0) | (msg.tc ? 0x02 : 0) | (msg.rd ? 0x01 : 0);
  scratch[off++] = (msg.ra ? 0x80 : 0) | (msg.z ? 0x40 : 0) | (msg.ad ? 0x20 : 0) | (msg.cd ? 0x10 : 0) | (rcode & 0x0f);
  writeU16(count(msg.questions, 'questions'));
  writeU16(count(msg.answers, 'answers'));
  writeU16(count(msg.authorities, 'authority records'));
  writeU16(count(msg.additionals, 'additional records') + (msg.edns ? 1 : 0));
  for (const q of msg.questions) {
    if (off > MAX_MESSAGE) tooLarge();
    writeName(q.name, true);
    writeU16(u16(q.type, 'question type'));
    writeU16(u16(q.class, 'question class'));
  }
  if (off > MAX_MESSAGE) tooLarge();
  const questionEnd = off;
  for (const section of [msg.answers, msg.authorities, msg.additionals]) {
    for (const rr of section) {
      if (!ends) {
        writeRecord(rr);
        continue;
      }
      try {
        writeRecord(rr);
      } catch (e) {
        if (e instanceof MessageTooLarge) return questionEnd;
        throw e;
      }
      ends.push(off);
      if (off > stopAt) return questionEnd;
    }
  }
  return questionEnd;
}

function copyOut(): Buffer {
  const out = Buffer.allocUnsafe(off);
  scratch.copy(out, 0, 0, off);
  return out;
}

/** Encodes a message, compressing names. Throws EncodeError for anything that cannot go on the wire. */
export function encodeMessage(msg: Message): Buffer {
  writeBody(msg, undefined);
  if (msg.edns) writeOpt(msg.edns, msg.rcode, true);
  if (off > MAX_MESSAGE) tooLarge();
  return copyOut();
}

/**
 * Encodes `msg` to at most `maxSize` bytes, as CoreDNS's scrub (miekg/dns Msg.Truncate) does: when
 * the whole message does not fit, keep the longest prefix of answer, authority, additional records
 * (in that order) that fits together with the OPT record, and set TC when any record was left out
 * (an existing TC is kept). The OPT is always kept; only if even the header, questions and OPT
 * exceed `maxSize` (a huge OPT, or maxSize < 512) are the EDNS options, then the OPT, then the
 * questions given up, so the result never exceeds `maxSize`.
 */
export function encodeTruncated(msg: Message, maxSize: number): Buffer {
  if (!(maxSize >= 12)) throw new EncodeError(`maxSize ${maxSize} is smaller than a header`);
  const ends: number[] = [];
  const questionEnd = writeBody(msg, ends, maxSize);
  const total = msg.answers.length + msg.authorities.length + msg.additionals.length;
  const e = msg.edns;
  let optLen = e ? optLength(e) : 0;
  if (ends.length === total && off + optLen <= maxSize) {
    if (e) writeOpt(e, msg.rcode, true);
    return copyOut();
  }
  let withOptions = true;
  let withOpt = e !== undefined;
  if (withOpt && questionEnd + optLen > maxSize) {
    withOptions = false;
    optLen = 11;
    if (questionEnd + optLen > maxSize) {
      withOpt = false;
      optLen = 0;
    }
  }
  let cut = questionEnd;
  let keepQuestions = true;
  if (questionEnd + optLen > maxSize) {
    keepQuestions = false;
    cut = 12;
  }
  let kept = 0;
  if (keepQuestions) {
    const budget = maxSize - optLen;
    while (kept < ends.length && ends[kept]! <= budget) kept++;
    if (kept > 0) cut = ends[kept - 1]!;
  }
  const an = msg.answers.length;
  const ns = msg.authorities.length;
  const keptAn = Math.min(kept, an);
  const keptNs = Math.min(Math.max(kept - an, 0), ns);
  const keptAr = Math.max(kept - an - ns, 0);
  off = 4;
  writeU16(keepQuestions ? msg.questions.length : 0);
  writeU16(keptAn);
  writeU16(keptNs);
  writeU16(keptAr + (withOpt ? 1 : 0));
  if (kept < total) scratch[2] = scratch[2]! | 0x02;
  off = cut;
  if (withOpt && e) writeOpt(e, msg.rcode, withOptions);
  return copyOut();
}

/** The uncompressed wire form of a name (validated as encodeMessage does). */
export function nameToWire(name: string): Buffer {
  off = 0;
  resetCompression();
  writeName(name, false);
  return copyOut();
}
