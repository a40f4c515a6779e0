import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { httpAddressArg } from '../../server/http-registry.js';

/**
 * `health [ADDRESS] { lameduck DURATION }` (default :8080). /health answers 200 "OK" while the
 * process runs, including during lameduck: on SIGTERM the server keeps answering queries for the
 * lameduck time (so endpoints are removed before we stop), then exits 0.
 */
export const health: PluginSetup = {
  name: 'health',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('health', directives), 'health');
    const addr = httpAddressArg(r, ':8080');
    let lameduckMs = 0;
    for (const child of r.block()) {
      if (child.name !== 'lameduck') r.unknownProperty(child);
      const c = new DirectiveReader(child, 'health');
      const [d] = c.args(1, 1);
      lameduckMs = c.duration(d!);
    }
    let unroute: (() => void) | undefined;
    let unduck: (() => void) | undefined;
    return {
      async start() {
        unroute = await ctx.process.http.route(addr, '/health', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('OK');
        });
        if (lameduckMs > 0) unduck = ctx.process.lifecycle.setLameduck(lameduckMs);
      },
      async stop() {
        unroute?.();
        unduck?.();
      },
    };
  },
};
