/**
 * acl (CoreDNS plugin/acl): allow, block (REFUSED), filter (NOERROR, no records) or drop (no reply
 * at all) queries by source address and query type. The source is the UDP/TCP peer address.
 * Blocked and filtered replies carry an Extended DNS Error (RFC 8914: Blocked, Filtered) when the
 * query had EDNS, as CoreDNS's do.
 */
import type { Logger } from 'pino';
import { Rcode } from '../../dns/constants.js';
import { replyTo, type EdnsOption, type Message } from '../../dns/message.js';
import { nextOrFailure, NO_REPLY } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { allowedTotal, blockedTotal, droppedTotal, filteredTotal } from './metrics.js';
import { decide, type AclRule } from './policy.js';

/** RFC 8914 option code and the two info codes acl uses. */
const EDNS_EDE = 15;
export const EDE_BLOCKED = 15;
export const EDE_FILTERED = 17;

export class AclHandler {
  constructor(
    private readonly rules: readonly AclRule[],
    private readonly logger: Logger,
  ) {}

  withNext(next: Handler | undefined): Handler {
    return { name: 'acl', serveDNS: (req, w) => this.serve(next, req, w) };
  }

  private async serve(next: Handler | undefined, req: Request, w: ResponseWriter): Promise<number> {
    const d = decide(this.rules, req.name, req.qtype, req.remoteAddress);
    const server = req.origin.server;
    switch (d.action) {
      case 'allow':
        allowedTotal.inc({ server, view: '' });
        return nextOrFailure('acl', next, req, w);
      case 'drop':
        droppedTotal.inc({ server, zone: d.zone, view: '' });
        return NO_REPLY;
      case 'block':
        if (d.badSource) this.logger.error(`[ERROR] plugin/acl: Blocking request. Unable to parse source address: ${req.remoteAddress}`);
        w.writeMsg(withEde(replyTo(req.msg, Rcode.REFUSED), EDE_BLOCKED));
        blockedTotal.inc({ server, zone: d.zone, view: '' });
        return Rcode.NOERROR;
      case 'filter':
        w.writeMsg(withEde(replyTo(req.msg, Rcode.NOERROR), EDE_FILTERED));
        filteredTotal.inc({ server, zone: d.zone, view: '' });
        return Rcode.NOERROR;
    }
  }
}

/** Adds an Extended DNS Error option (no extra text); the server keeps it only when the query had EDNS. */
function withEde(m: Message, infoCode: number): Message {
  const data = new Uint8Array([infoCode >> 8, infoCode & 0xff]);
  const opt: EdnsOption = { code: EDNS_EDE, data };
  m.edns = { udpSize: m.edns?.udpSize ?? 1232, version: 0, do: m.edns?.do ?? false, options: [...(m.edns?.options ?? []), opt] };
  return m;
}
