/**
 * nsid (CoreDNS plugin/nsid, RFC 5001): when a query carries the NSID EDNS option, the reply gets
 * an NSID option holding this server's identifier. Replies written as pre-encoded wire are decoded,
 * given the option and written as a message.
 */
import type { Message } from '../../dns/message.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { TransformingWriter } from '../../server/transforming-writer.js';

/** EDNS option code of NSID (RFC 5001). */
export const EDNS_NSID = 3;

export function nsidHandler(data: Uint8Array, next: Handler | undefined): Handler {
  return {
    name: 'nsid',
    serveDNS(req, w) {
      const asked = req.msg.edns?.options.some((o) => o.code === EDNS_NSID) ?? false;
      return nextOrFailure('nsid', next, req, asked ? new NsidWriter(w, req, data) : w);
    },
  };
}

/** Adds (or replaces) the NSID option of every reply written through it. */
export class NsidWriter extends TransformingWriter {
  constructor(
    inner: ResponseWriter,
    private readonly req: Request,
    private readonly data: Uint8Array,
  ) {
    super(inner);
  }

  protected transform(reply: Message): Message {
    const reqEdns = this.req.msg.edns;
    if (reqEdns && !reply.edns) reply.edns = { udpSize: reqEdns.udpSize, version: 0, do: reqEdns.do, options: [] };
    if (reply.edns) {
      const options = reply.edns.options.filter((o) => o.code !== EDNS_NSID);
      options.push({ code: EDNS_NSID, data: this.data });
      reply.edns = { ...reply.edns, options };
    }
    return reply;
  }
}
