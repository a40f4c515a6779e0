/**
 * minimal (CoreDNS plugin/minimal): a positive answer (NOERROR that is neither NODATA nor a
 * referral) goes out with its answer section only; the authority and additional sections are
 * dropped. Negative answers (NXDOMAIN, NODATA), referrals, errors and zone transfers pass unchanged.
 * The EDNS OPT record is not a section record here and always stays.
 */
import { Opcode, Rcode, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import type { Message } from '../../dns/message.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import type { ResponseWriter } from '../../server/response-writer.js';

export function minimalHandler(next: Handler | undefined): Handler {
  return {
    name: 'minimal',
    serveDNS(req, w) {
      return nextOrFailure('minimal', next, req, new MinimalWriter(w));
    },
  };
}

/** CoreDNS's response.Typify, reduced to the question minimal asks: may this reply be trimmed? */
export function isTrimmable(m: Message): boolean {
  if (m.opcode === Opcode.UPDATE || m.opcode === Opcode.NOTIFY) return false;
  const qtype = m.questions[0]?.type;
  if (qtype === RRType.AXFR || qtype === RRType.IXFR) return false;
  if (m.rcode !== Rcode.NOERROR) return false;
  if (m.answers.length > 0) return true;
  // No answer: NODATA (SOA in authority) and referrals (NS in authority) stay as they are.
  for (const rr of m.authorities) if (rr.type === RRType.SOA || rr.type === RRType.NS) return false;
  return true;
}

export class MinimalWriter implements ResponseWriter {
  private wrote = false;

  constructor(private readonly inner: ResponseWriter) {}

  get written(): boolean {
    return this.wrote || this.inner.written;
  }
  get sentBytes(): number {
    return this.inner.sentBytes;
  }

  writeMsg(reply: Message): void {
    this.wrote = true;
    if (isTrimmable(reply) && (reply.authorities.length > 0 || reply.additionals.length > 0)) {
      reply = { ...reply, authorities: [], additionals: [] };
    }
    this.inner.writeMsg(reply);
  }

  writeWire(reply: Buffer): void {
    // Nothing to trim when both sections are empty (ARCOUNT counts the OPT record too).
    if (reply.length < 12 || (reply.readUInt16BE(8) === 0 && reply.readUInt16BE(10) === 0)) {
      this.wrote = true;
      this.inner.writeWire(reply);
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(reply);
    } catch {
      this.wrote = true;
      this.inner.writeWire(reply);
      return;
    }
    if (!isTrimmable(m) || (m.authorities.length === 0 && m.additionals.length === 0)) {
      this.wrote = true;
      this.inner.writeWire(reply);
      return;
    }
    this.writeMsg(m);
  }
}
