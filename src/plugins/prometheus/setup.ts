import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { httpAddressArg } from '../../server/http-registry.js';
import { registry } from '../../metrics/registry.js';
import { metricsHandler } from './handler.js';
import { pluginEnabled, startProcessMetrics } from './metrics.js';

/**
 * `prometheus [ADDRESS]` (default localhost:9153): /metrics in the Prometheus text format, with
 * CoreDNS's metric names. Several server blocks may name the same address: one listener serves them.
 */
export const prometheus: PluginSetup = {
  name: 'prometheus',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('prometheus', directives), 'prometheus');
    const addr = httpAddressArg(r, 'localhost:9153');
    if (r.block().length > 0) r.unknownProperty(r.block()[0]!);
    let unroute: (() => void) | undefined;
    const server = `dns://:${ctx.port}`;
    return {
      handler: metricsHandler(server),
      async start() {
        startProcessMetrics();
        for (const a of ctx.addresses) for (const name of ctx.siblings.keys()) pluginEnabled.set({ server, zone: a.zone, view: '', name }, 1);
        unroute = await ctx.process.http.route(addr, '/metrics', (_req, res) => {
          registry.metrics().then(
            (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
            (err: unknown) => res.writeHead(500).end(String(err)),
          );
        });
      },
      async stop() {
        unroute?.();
      },
    };
  },
};
