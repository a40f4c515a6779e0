/**
 * Pre-encoded answers. Encoding a reply is the costly half of answering; the records for a name
 * change only when the cluster does, so a reply is encoded once (question name in lower case, no
 * OPT) and each query gets a copy with its own ID, RD and CD bits, its own spelling of the name,
 * and our OPT when it sent one. The result is byte for byte what encodeMessage gives for the same
 * reply (a test holds us to that), because compression pointers point at the question name and
 * a name in another case has the same length.
 */
import { encodeMessage } from './encode.js';
import type { Edns, Message, Question } from './message.js';
import { asciiLower } from './names.js';
import { UDP_SIZE_DEFAULT_CAP } from './constants.js';

export interface WireTemplate {
  /**
   * Holds the reply, as encodeMessage wrote it, at [at, at + length): ID and RD/CD as in the source
   * reply, no OPT. A memo keeps many templates in shared slabs (kubernetes/byte-arena.ts), so a
   * template names its place in one instead of holding a Buffer view of its own (~96 B an entry).
   */
  readonly wire: Uint8Array;
  readonly at: number;
  readonly length: number;
  /** The question name's length on the wire; it starts at offset 12. */
  readonly nameLength: number;
  readonly qtype: number;
  readonly qclass: number;
  readonly rcode: number;
}

/** What instantiate needs from a query: a ParsedQuery or a server Request both fit. */
export interface TemplateQuery {
  /** The query as received; when present its question name at offset 12 is copied (case kept). */
  readonly wire?: Uint8Array | undefined;
  readonly msg: {
    readonly id: number;
    readonly rd: boolean;
    readonly cd: boolean;
    readonly questions: readonly Question[];
    readonly edns?: Pick<Edns, 'do'> | undefined;
  };
}

/** The OPT we put in every EDNS reply (what BaseWriter advertises, Flag Day 2020 size). */
export const TEMPLATE_UDP_SIZE = UDP_SIZE_DEFAULT_CAP;

/**
 * Encodes `reply` once. It must have exactly one question, with a lower-case name, no `edns`, and
 * a 4-bit rcode (an extended rcode would need the OPT that only some queries get).
 */
export function makeTemplate(reply: Message): WireTemplate {
  const q = reply.questions[0];
  if (reply.questions.length !== 1 || !q) throw new Error('wire template: the reply must have exactly one question');
  if (asciiLower(q.name) !== q.name) throw new Error(`wire template: question name "${q.name}" is not lower-case`);
  if (reply.edns !== undefined) throw new Error('wire template: the reply must not carry EDNS; instantiate adds it per query');
  if (reply.rcode > 15) throw new Error(`wire template: extended rcode ${reply.rcode} needs EDNS`);
  const wire = encodeMessage(reply);
  let p = 12;
  while (wire[p] !== 0) p += wire[p]! + 1;
  return { wire, at: 0, length: wire.length, nameLength: p + 1 - 12, qtype: q.type, qclass: q.class, rcode: reply.rcode };
}

/** Case-insensitive (ASCII) equality of two wire names of `n` bytes. */
function sameName(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): boolean {
  for (let i = 0; i < n; i++) {
    let x = a[ai + i]!;
    let y = b[bi + i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 32;
    if (y >= 0x41 && y <= 0x5a) y += 32;
    if (x !== y) return false;
  }
  return true;
}

/**
 * The reply to `q`: the template with the query's ID, RD and CD, its question name bytes (so the
 * client sees its own case), and, when the query had EDNS, an OPT (UDP size 1232, DO echoed).
 * Throws when the query's question is not the template's (a lookup bug, never a client's fault).
 */
export function instantiate(t: WireTemplate, q: TemplateQuery): Buffer {
  const base = t.wire;
  const at = t.at;
  const len = t.length;
  const nl = t.nameLength;
  const question = q.msg.questions[0];
  if (!question || question.type !== t.qtype || question.class !== t.qclass) {
    throw new Error('wire template: the query asks a different type or class');
  }
  const edns = q.msg.edns;
  const out = Buffer.allocUnsafe(edns ? len + 11 : len);
  // A plain Uint8Array's subarray + set: ~60 ns less than Buffer#copy with offsets (which checks its
  // arguments in JS and makes the same view); the arena's slabs are plain Uint8Arrays for this.
  out.set(at === 0 && len === base.length ? base : base.subarray(at, at + len), 0);
  const id = q.msg.id;
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = (out[2]! & 0xfe) | (q.msg.rd ? 0x01 : 0);
  out[3] = (out[3]! & 0xef) | (q.msg.cd ? 0x10 : 0);
  const w = q.wire;
  if (w !== undefined && w.length >= 12 + nl && w[12 + nl - 1] === 0 && sameName(w, 12, out, 12, nl)) {
    out.set(w.subarray(12, 12 + nl), 12);
  } else {
    // A synthetic request (no wire, or a rewritten question): spell the name from the message.
    const own = encodeMessage({
      id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode: 0,
      questions: [question], answers: [], authorities: [], additionals: [],
    });
    if (own.length !== 12 + nl + 4 || !sameName(own, 12, out, 12, nl)) {
      throw new Error(`wire template: the query's name "${question.name}" is not the template's`);
    }
    own.copy(out, 12, 12, 12 + nl);
  }
  if (edns) {
    const ar = ((out[10]! << 8) | out[11]!) + 1;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
    let p = len;
    out[p++] = 0; // root
    out[p++] = 0;
    out[p++] = 41; // OPT
    out[p++] = TEMPLATE_UDP_SIZE >> 8;
    out[p++] = TEMPLATE_UDP_SIZE & 0xff;
    out[p++] = 0; // extended rcode: templates have 4-bit rcodes only
    out[p++] = 0; // version
    out[p++] = edns.do ? 0x80 : 0;
    out[p++] = 0;
    out[p++] = 0; // RDLENGTH
    out[p++] = 0;
  }
  return out;
}
