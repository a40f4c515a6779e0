/**
 * autopath (CoreDNS plugin/autopath): server-side search path completion.
 *
 * A client with `ndots:5` looks up "www.example.org" as "www.example.org.<ns>.svc.cluster.local."
 * first, then with each further search domain, and only last as "www.example.org." — one
 * NXDOMAIN round trip per search domain. When a query's name lies below the first domain of the
 * client's search path, autopath strips that domain and runs the rest of the chain itself for the
 * name with each search domain in turn, the name itself last, without writing to the client. The
 * first reply that is written and is not NXDOMAIN goes to the client with a CNAME from the asked
 * name to the name that answered. When every try fails, the client gets the reply for the name it
 * asked, as if autopath were not there, and goes on searching itself.
 */
import { Rcode } from '../../dns/constants.js';
import type { Message } from '../../dns/message.js';
import { isClientWrite, nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import { matchZone } from '../../plugin/zones.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { cnamer } from './cname.js';
import { autopathSuccess } from './metrics.js';
import { NonWriter } from './non-writer.js';
import { expand, searchBase } from './search-path.js';

/**
 * The search path for a request: canonical domains ending in '' (the name itself), or undefined
 * when the request is not to be autopathed (CoreDNS's autopath.Func).
 */
export type SearchPathFunc = (req: Request) => readonly string[] | undefined;

export class AutopathHandler {
  constructor(
    private readonly zones: readonly string[],
    private readonly searchPath: SearchPathFunc,
  ) {}

  withNext(next: Handler | undefined): Handler {
    return { name: 'autopath', serveDNS: (req, w) => this.serve(next, req, w) };
  }

  private async serve(next: Handler | undefined, req: Request, w: ResponseWriter): Promise<number> {
    if (matchZone(this.zones, req.name) === undefined) return nextOrFailure('autopath', next, req, w);
    const search = this.searchPath(req);
    const base = search && search.length > 0 ? searchBase(req.name, req.qname, search[0]!) : undefined;
    if (!search || base === undefined) return nextOrFailure('autopath', next, req, w);

    // The reply to the name as asked (the first try): what the client gets when nothing is found.
    let firstRcode: number = Rcode.SERVFAIL;
    let firstReply: Message | undefined;
    for (let i = 0; i < search.length; i++) {
      const nw = new NonWriter();
      const rcode = await nextOrFailure('autopath', next, req.withQuestion({ ...req.question, name: expand(base, search[i]!) }), nw);
      const reply = nw.reply();
      if (i === 0) {
        firstRcode = rcode;
        firstReply = reply;
      }
      if (!isClientWrite(rcode) || !reply || reply.rcode === Rcode.NXDOMAIN) continue;
      w.writeMsg(cnamer(reply, req.question));
      autopathSuccess.inc({ server: req.origin.server });
      return rcode;
    }
    if (isClientWrite(firstRcode) && firstReply) w.writeMsg({ ...firstReply, questions: [{ ...req.question }] });
    return firstRcode;
  }
}
