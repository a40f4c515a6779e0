/**
 * rewrite (CoreDNS plugin/rewrite): rewrites the question before the rest of the chain sees it and
 * the reply on its way back, so that the client only ever sees what it asked.
 *
 * The rules are tried in order on the question as the previous matching rules left it; the first
 * matching `stop` rule ends the list. When any rule matched, the next plugin gets a request with the
 * rewritten question and a writer that restores the asked question in the reply and applies the
 * matched rules' response rules (answer names and values, ttl, rcode), last rule first.
 */
import type { Logger } from 'pino';
import { Rcode } from '../../dns/constants.js';
import { replyTo, type Question } from '../../dns/message.js';
import { isValidName } from '../../dns/names.js';
import { isClientWrite, nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { ResponseReverter, type ResponseRule } from './response.js';
import type { Rule } from './rules.js';

export class RewriteHandler {
  private warned = false;

  constructor(
    private readonly rules: readonly Rule[],
    private readonly logger: Logger,
  ) {}

  withNext(next: Handler | undefined): Handler {
    return { name: 'rewrite', serveDNS: (req, w) => this.serve(next, req, w) };
  }

  private async serve(next: Handler | undefined, req: Request, w: ResponseWriter): Promise<number> {
    const original = req.question;
    const q: Question = { ...original };
    const responseRules: ResponseRule[] = [];
    let matched = false;
    for (const rule of this.rules) {
      const rr = rule.apply(q);
      if (rr === undefined) continue;
      matched = true;
      if (!isValidName(q.name)) {
        // CoreDNS: SERVFAIL with "invalid name after rewrite"; the client's question is kept. Clients
        // choose the names, so only the first one is a warning (a rule that needs fixing).
        const line = `plugin/rewrite: invalid name after rewrite: ${q.name} (asked: ${original.name})`;
        if (this.warned) this.logger.debug(`[DEBUG] ${line}`);
        else this.logger.warn(`[WARNING] ${line}; further ones are logged at debug level`);
        this.warned = true;
        return Rcode.SERVFAIL;
      }
      responseRules.push(...rr);
      if (rule.mode === 'stop') break;
    }
    if (!matched) return nextOrFailure('rewrite', next, req, w);

    const same = q.name === original.name && q.type === original.type && q.class === original.class;
    const inner = same ? req : req.withQuestion(q);
    const rw = new ResponseReverter(w, original, responseRules);
    const rcode = await nextOrFailure('rewrite', next, inner, rw);
    if (isClientWrite(rcode) || rw.written) return rcode;
    // The rest of the chain did not write: write its error reply here so the response rules (rcode)
    // apply to it too, and tell the server it is written (CoreDNS's serveWithResponseReverter).
    rw.writeMsg(replyTo(req.msg, rcode));
    return Rcode.NOERROR;
  }
}
