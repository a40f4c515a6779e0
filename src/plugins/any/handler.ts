/**
 * any (CoreDNS plugin/any): RFC 8482 §4.2 — an ANY query gets one synthesized HINFO record instead
 * of every RRset at the name. Other query types go to the next plugin.
 */
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { replyTo } from '../../dns/message.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';

/** CoreDNS's exact record: `NAME 8482 IN HINFO "ANY obsoleted" "See RFC 8482"`. */
export const ANY_TTL = 8482;
export const ANY_CPU = 'ANY obsoleted';
export const ANY_OS = 'See RFC 8482';

export function anyHandler(next: Handler | undefined): Handler {
  return {
    name: 'any',
    async serveDNS(req, w) {
      if (req.qtype !== RRType.ANY) return nextOrFailure('any', next, req, w);
      const m = replyTo(req.msg);
      m.answers.push({ name: req.qname, class: RRClass.IN, ttl: ANY_TTL, type: RRType.HINFO, cpu: ANY_CPU, os: ANY_OS });
      w.writeMsg(m);
      return Rcode.NOERROR;
    },
  };
}
