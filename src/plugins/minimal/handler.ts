/**
 * minimal (CoreDNS plugin/minimal): a positive answer (NOERROR that is neither NODATA nor a
 * referral) goes out with its answer section only; the authority and additional sections are
 * dropped. Negative answers (NXDOMAIN, NODATA), referrals, errors and zone transfers pass unchanged.
 * The EDNS OPT record is not a section record here and always stays.
 */
import { Opcode, Rcode, RRType } from '../../dns/constants.js';
import type { Message } from '../../dns/message.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import { TransformingWriter } from '../../server/transforming-writer.js';

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

export class MinimalWriter extends TransformingWriter {
  protected override mayChange(wire: Buffer): boolean {
    // Nothing to trim when both sections are empty (ARCOUNT counts the OPT record too).
    return wire.readUInt16BE(8) !== 0 || wire.readUInt16BE(10) !== 0;
  }

  protected transform(reply: Message): Message {
    if (isTrimmable(reply) && (reply.authorities.length > 0 || reply.additionals.length > 0)) {
      return { ...reply, authorities: [], additionals: [] };
    }
    return reply;
  }
}
