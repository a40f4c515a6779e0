/**
 * The few bytes of a DNS message a forwarder has to touch. Queries are relayed as the client sent
 * them and replies as the upstream sent them; only the ID and the question's letter case change
 * (what CoreDNS does by packing and unpacking, done here in place).
 */

/** Header flag bits (byte 2). */
const QR = 0x80;
const TC = 0x02;

/**
 * The end of the single question of a message (12 + name + type + class), or undefined when the
 * message does not have exactly one uncompressed question that fits.
 */
export function questionEnd(msg: Uint8Array): number | undefined {
  if (msg.length < 12 || msg[4] !== 0 || msg[5] !== 1) return undefined;
  let off = 12;
  for (;;) {
    const len = msg[off];
    if (len === undefined || len > 63) return undefined; // past the end, or a compression pointer
    off += 1 + len;
    if (len === 0) break;
    if (off - 12 > 255) return undefined;
  }
  off += 4;
  return off <= msg.length ? off : undefined;
}

const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/**
 * True when `reply` is a response (QR set) carrying the same single question as `query` (whose
 * question ends at `qEnd`): the name compared without regard to ASCII case (RFC 4343), type and
 * class exactly. This and the ID are what a forwarder matches a reply to its query by; anything
 * else on the socket is ignored.
 */
export function isReplyTo(reply: Uint8Array, query: Uint8Array, qEnd: number): boolean {
  if (reply.length < qEnd || (reply[2]! & QR) === 0 || reply[4] !== 0 || reply[5] !== 1) return false;
  if ((reply[2]! & 0x78) !== (query[2]! & 0x78)) return false; // opcode
  const nameEnd = qEnd - 4;
  for (let i = 12; i < nameEnd; i++) if (lower(reply[i]!) !== lower(query[i]!)) return false;
  for (let i = nameEnd; i < qEnd; i++) if (reply[i] !== query[i]) return false;
  return true;
}

/** Gives a reply the client's ID and the question exactly as the client wrote it (case kept). */
export function restoreClientView(reply: Buffer, query: Uint8Array, qEnd: number, clientId: number): void {
  reply.writeUInt16BE(clientId, 0);
  reply.set(query.subarray(12, qEnd), 12);
}

/** A copy of a query under another ID. */
export function withId(query: Uint8Array, id: number): Buffer {
  const b = Buffer.from(query);
  b.writeUInt16BE(id, 0);
  return b;
}

export function isTruncated(msg: Uint8Array): boolean {
  return (msg[2]! & TC) !== 0;
}

/** The header rcode (the low 4 bits; the extended bits live in OPT and are not needed here). */
export function headerRcode(msg: Uint8Array): number {
  return msg[3]! & 0x0f;
}

export function answerCount(msg: Uint8Array): number {
  return (msg[6]! << 8) | msg[7]!;
}
