import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { httpAddressArg } from '../../server/http-registry.js';
import { stringToType } from '../../dns/constants.js';

/**
 * `ready [ADDRESS]` (default :8181). /ready answers 200 "OK" when every plugin of the serving
 * config that reports readiness is ready (kubernetes after its first full list), else 503 with
 * the names of those that are not. During lameduck it answers 503 so the Pod leaves the
 * Service endpoints while it still answers queries. `/explain?name=&type=` on the same address
 * returns the answer for a name and why, as JSON (see src/explain).
 */
export const ready: PluginSetup = {
  name: 'ready',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('ready', directives), 'ready');
    const addr = httpAddressArg(r, ':8181');
    if (r.block().length > 0) r.unknownProperty(r.block()[0]!);
    let unroute: (() => void) | undefined;
    let unexplain: (() => void) | undefined;
    return {
      async start() {
        unroute = await ctx.process.http.route(addr, '/ready', (_req, res) => {
          if (ctx.process.lifecycle.shuttingDown) {
            res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('shutting down');
            return;
          }
          const waiting = ctx.process.notReady();
          if (waiting.length === 0) res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('OK');
          else res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(waiting.sort().join(', '));
        });
        // GET /explain?name=NAME&type=TYPE: the answer for NAME and the objects and reasons behind it, as JSON.
        unexplain = await ctx.process.http.route(addr, '/explain', (req, res) => {
          const url = new URL(req.url ?? '/', 'http://x');
          const name = url.searchParams.get('name');
          const type = stringToType(url.searchParams.get('type') ?? 'A');
          if (!name || type === undefined) {
            res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'expected ?name=NAME[&type=TYPE]' }));
            return;
          }
          ctx.process.explain(ctx.port, name, type).then(
            (r) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(r)),
            (err: unknown) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as Error).message })),
          );
        });
      },
      async stop() {
        unroute?.();
        unexplain?.();
      },
    };
  },
};
