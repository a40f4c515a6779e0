/**
 * errors (CoreDNS plugin/errors): errors thrown further down the chain are logged here as
 * `[ERROR] plugin/errors: 2 NAME. TYPE: message` and answered SERVFAIL (the dispatcher writes it).
 */
import type { Logger } from 'pino';
import { Rcode, typeToString } from '../../dns/constants.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { HandlerFactory } from '../../plugin/types.js';
import { panicsTotal } from '../../server/metrics.js';
import type { Request } from '../../server/request.js';

export interface ConsolidateRule {
  periodMs: number;
  regex: RegExp;
  level: 'warn' | 'error' | 'info' | 'debug';
}

export function errorsHandler(rules: ConsolidateRule[], logger: Logger): { factory: HandlerFactory; stop: () => void } {
  const counts = rules.map(() => 0);
  const timers = rules.map((rule, i) =>
    setInterval(() => {
      const n = counts[i]!;
      if (n > 0) logger[rule.level](`[${rule.level.toUpperCase()}] plugin/errors: ${n} errors like '${rule.regex.source}' occurred in last ${rule.periodMs / 1000}s`);
      counts[i] = 0;
    }, rule.periodMs).unref(),
  );
  const factory: HandlerFactory = (next) => ({
    name: 'errors',
    // Not async: a synchronous answer passes through without a promise (see Handler).
    serveDNS(req, w) {
      let r: number | Promise<number>;
      try {
        r = nextOrFailure('errors', next, req, w);
      } catch (err) {
        return failed(req, err);
      }
      return typeof r === 'number' ? r : r.then(undefined, (err: unknown) => failed(req, err));
    },
  });
  function failed(req: Request, err: unknown): number {
    const text = `${Rcode.SERVFAIL} ${req.qname} ${typeToString(req.qtype)}: ${(err as Error).message ?? String(err)}`;
    const i = rules.findIndex((r) => r.regex.test(text));
    if (i >= 0) counts[i]!++;
    else logger.error({ err }, `[ERROR] plugin/errors: ${text}`);
    // A thrown error is our panic: count it like the dispatcher would, and let the server write SERVFAIL.
    panicsTotal.inc();
    return Rcode.SERVFAIL;
  }
  return { factory, stop: () => timers.forEach((t) => clearInterval(t)) };
}
