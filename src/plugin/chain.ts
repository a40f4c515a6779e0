/** Building and walking the plugin chain (CoreDNS's plugin.NextOrFailure and plugin.ClientWrite). */
import { Rcode } from '../dns/constants.js';
import type { Handler, HandlerFactory } from './types.js';
import type { Request } from '../server/request.js';
import type { ResponseWriter } from '../server/response-writer.js';

/**
 * True when the rcode means the handler has not written a reply and the server must write one.
 * (CoreDNS: plugin.ClientWrite.)
 */
export function isClientWrite(rcode: number): boolean {
  return !(rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED || rcode === Rcode.FORMERR || rcode === Rcode.NOTIMP);
}

/**
 * Returned by a handler that deliberately sends no reply at all (acl `drop`): the server writes
 * nothing and the client times out. Negative so it is never mistaken for an rcode; `isClientWrite`
 * is true for it, so wrapping plugins pass it up untouched as they do for a written reply.
 */
export const NO_REPLY = -1;

/** Calls the next handler, or answers SERVFAIL when the chain ends here (a misconfigured chain). */
export function nextOrFailure(pluginName: string, next: Handler | undefined, req: Request, w: ResponseWriter): number | Promise<number> {
  if (next) return next.serveDNS(req, w);
  return Rcode.SERVFAIL;
}

/**
 * Builds the chain back to front from factories already sorted in plugin order. Each handler is
 * wrapped once so that the innermost plugin that wrote the reply is remembered on the request
 * (the `plugin` label of coredns_dns_responses_total).
 */
export function buildChain(factories: HandlerFactory[]): Handler | undefined {
  let next: Handler | undefined;
  for (let i = factories.length - 1; i >= 0; i--) next = attributeWrites(factories[i]!(next));
  return next;
}

function attributeWrites(h: Handler): Handler {
  const name = h.name;
  return {
    name,
    serveDNS(req, w) {
      const r = h.serveDNS(req, w);
      // Already written (synchronously, the usual case): deeper wrappers have looked before us, so
      // this is the innermost writer unless one of them claimed it. Otherwise look once h is done.
      // Not an async function: one fewer promise and frame per plugin per query (see Handler).
      if (w.written) {
        if (req.writtenBy === undefined) req.writtenBy = name;
        return r;
      }
      if (typeof r === 'number') return r;
      return r.then((rcode) => {
        if (req.writtenBy === undefined && w.written) req.writtenBy = name;
        return rcode;
      });
    },
  };
}
