/**
 * The hot-path query parser. A DNS query from a stub resolver has one shape: a header, one
 * uncompressed question, and at most an OPT record. Anything else is answered without a full
 * decode: FORMERR, NOTIMP for opcodes other than QUERY, or silence for responses (answering a
 * response would let two servers bounce packets at each other forever) and runts.
 *
 * It never follows a compression pointer and reads nothing past the question and the OPT, so
 * the pointer-chain and restart-at-zero attacks found in dns2 and dns-packet cannot reach it.
 */
import { readHeader } from './decode.js';
import type { EdnsOption, Header, Message } from './message.js';
import { writeEscapedLabel } from './names.js';

/** A query the server can answer. */
export interface ParsedQuery {
  /**
   * The query as a Message: header flags, the one question (name as the client wrote it, in the
   * escaped form decodeMessage produces), `edns` when an OPT was present. EDNS option data are
   * views into `wire`: copy them to keep them beyond the request.
   */
  msg: Message;
  /** The datagram or TCP message the query came in. */
  wire: Buffer;
  /** Offset after the question name's root label: the name is wire[12, nameEnd). */
  nameEnd: number;
  /** Offset after QTYPE and QCLASS. */
  questionEnd: number;
}

/** A query the server does not answer normally: drop it, or send the rcode with `header`'s ID. */
export type QueryReject = { kind: 'drop' } | { kind: 'formerr' | 'notimp'; header: Header; reason: string };

export const DROP: QueryReject = { kind: 'drop' };


// A name is at most 255 wire bytes; escaped as \DDD that is < 4 × 255 characters.
const nameScratch = Buffer.allocUnsafe(1024);

function reject(kind: 'formerr' | 'notimp', buf: Buffer, reason: string): QueryReject {
  return { kind, header: readHeader(buf), reason };
}

export function parseQuery(buf: Buffer): ParsedQuery | QueryReject {
  const len = buf.length;
  if (len < 12) return DROP;
  const f1 = buf[2]!;
  if ((f1 & 0x80) !== 0) return DROP;
  if ((f1 & 0x78) !== 0) return reject('notimp', buf, 'opcode not supported');
  if (buf[4] !== 0 || buf[5] !== 1) return reject('formerr', buf, 'QDCOUNT is not 1');
  if (buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0) return reject('formerr', buf, 'query has answer or authority records');
  const arcount = (buf[10]! << 8) | buf[11]!;
  if (arcount > 1) return reject('formerr', buf, 'more than one additional record');

  // The question name: labels only, no pointers, escaped into the scratch buffer as decodeMessage does.
  let p = 12;
  let n = 0;
  const s = nameScratch;
  for (;;) {
    if (p >= len) return reject('formerr', buf, 'question name runs past the end');
    const l = buf[p]!;
    if (l === 0) break;
    if (l > 63) return reject('formerr', buf, l >= 0xc0 ? 'compressed question name' : 'bad label length');
    const e = p + 1 + l;
    // e - 12 is the wire length so far; with the root byte it must stay within 255.
    if (e - 12 >= 255) return reject('formerr', buf, 'question name longer than 255 bytes');
    if (e > len) return reject('formerr', buf, 'question name runs past the end');
    n = writeEscapedLabel(buf, p + 1, e, s, n);
    s[n++] = 0x2e;
    p = e;
  }
  const nameEnd = p + 1;
  const questionEnd = nameEnd + 4;
  if (questionEnd > len) return reject('formerr', buf, 'question runs past the end');
  const name = n === 0 ? '.' : s.toString('latin1', 0, n);
  const qtype = (buf[nameEnd]! << 8) | buf[nameEnd + 1]!;
  const qclass = (buf[nameEnd + 2]! << 8) | buf[nameEnd + 3]!;

  const f2 = buf[3]!;
  const id = (buf[0]! << 8) | buf[1]!;
  const questions = [{ name, type: qtype, class: qclass }];

  if (arcount === 0) {
    if (questionEnd !== len) return reject('formerr', buf, 'trailing bytes after the question');
    const msg: Message = {
      id, qr: false, opcode: 0, aa: (f1 & 0x04) !== 0, tc: (f1 & 0x02) !== 0, rd: (f1 & 0x01) !== 0,
      ra: (f2 & 0x80) !== 0, z: (f2 & 0x40) !== 0, ad: (f2 & 0x20) !== 0, cd: (f2 & 0x10) !== 0, rcode: f2 & 0x0f,
      questions, answers: [], authorities: [], additionals: [],
    };
    return { msg, wire: buf, nameEnd, questionEnd };
  }

  // The one additional record must be an OPT owned by the root: 0, TYPE 41, CLASS, TTL, RDLENGTH.
  p = questionEnd;
  if (p + 11 > len) return reject('formerr', buf, 'additional record runs past the end');
  if (buf[p] !== 0) return reject('formerr', buf, 'additional record is not an OPT owned by the root');
  if (buf[p + 1] !== 0 || buf[p + 2] !== 41) return reject('formerr', buf, 'additional record is not an OPT');
  const udpSize = (buf[p + 3]! << 8) | buf[p + 4]!;
  const extRcode = buf[p + 5]!;
  const version = buf[p + 6]!;
  const dnssecOk = (buf[p + 7]! & 0x80) !== 0;
  const rdlen = (buf[p + 9]! << 8) | buf[p + 10]!;
  p += 11;
  const end = p + rdlen;
  if (end !== len) return reject('formerr', buf, end > len ? 'OPT RDATA runs past the end' : 'trailing bytes after the OPT record');
  const options: EdnsOption[] = [];
  while (p < end) {
    if (p + 4 > end) return reject('formerr', buf, 'EDNS option header runs past RDATA');
    const ol = (buf[p + 2]! << 8) | buf[p + 3]!;
    if (p + 4 + ol > end) return reject('formerr', buf, 'EDNS option runs past RDATA');
    options.push({ code: (buf[p]! << 8) | buf[p + 1]!, data: new Uint8Array(buf.buffer, buf.byteOffset + p + 4, ol) });
    p += 4 + ol;
  }
  // Built whole rather than given `edns` afterwards, so every EDNS query has one object shape.
  const msg: Message = {
    id, qr: false, opcode: 0, aa: (f1 & 0x04) !== 0, tc: (f1 & 0x02) !== 0, rd: (f1 & 0x01) !== 0,
    ra: (f2 & 0x80) !== 0, z: (f2 & 0x40) !== 0, ad: (f2 & 0x20) !== 0, cd: (f2 & 0x10) !== 0,
    rcode: (extRcode << 4) | (f2 & 0x0f),
    questions, answers: [], authorities: [], additionals: [],
    edns: { udpSize, version, do: dnssecOk, options },
  };
  return { msg, wire: buf, nameEnd, questionEnd };
}
