import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { parseHttpAddress } from '../../server/http-registry.js';

/**
 * `ready [ADDRESS]` (default :8181). /ready answers 200 "OK" when every plugin of the serving
 * config that reports readiness is ready (kubernetes after its first full list), else 503 with
 * the names of those that are not. During lameduck it answers 503 so the Pod leaves the
 * Service endpoints while it still answers queries.
 */
export const ready: PluginSetup = {
  name: 'ready',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('ready', directives), 'ready');
    const [addr = ':8181'] = r.args(0, 1);
    try {
      parseHttpAddress(addr);
    } catch (err) {
      throw r.error((err as Error).message);
    }
    if (r.block().length > 0) r.unknownProperty(r.block()[0]!);
    let unroute: (() => void) | undefined;
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
      },
      async stop() {
        unroute?.();
      },
    };
  },
};
