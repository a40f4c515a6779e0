import path from 'node:path';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import { ConfigError } from '../../errors.js';
import type { PluginSetup } from '../../plugin/types.js';
import { Fallthrough, pluginZones } from '../../plugin/zones.js';
import { FileHandler, ZoneSource } from './handler.js';

/** CoreDNS's default reload check interval. */
export const DEFAULT_RELOAD_MS = 60_000;

/**
 * `file DBFILE [ZONES...] { reload DURATION; reload_by_mtime; fallthrough [ZONES...] }`
 *
 * DBFILE is relative to the Corefile's directory; ZONES default to the server block's. The file is
 * read once per zone (with that zone as its origin). A syntax error at startup fails the config. A
 * file that cannot be read fails it only with `reload 0`; otherwise the zone answers SERVFAIL until
 * the file appears (CoreDNS). `file` may appear more than once in a block.
 */
export const file: PluginSetup = {
  name: 'file',
  setup(directives, ctx) {
    const sources: ZoneSource[] = [];
    let fall = Fallthrough.none();
    for (const d of directives) {
      const r = new DirectiveReader(d, 'file');
      const [dbfile, ...zoneArgs] = r.args(1, Infinity);
      const filePath = path.resolve(ctx.root, dbfile!);
      const origins = pluginZones(zoneArgs, ctx.addresses);
      let reloadMs = DEFAULT_RELOAD_MS;
      let byMtime = false;
      for (const p of r.block()) {
        const c = r.child(p);
        switch (p.name) {
          case 'reload':
            reloadMs = c.duration(c.args(1)[0]!);
            break;
          case 'reload_by_mtime':
            c.args(0);
            byMtime = true;
            break;
          case 'fallthrough':
            fall = Fallthrough.parse(p.args);
            break;
          case 'upstream':
            // Accepted and ignored, as CoreDNS does: CNAME targets are always resolved through the server.
            break;
          default:
            r.unknownProperty(p);
        }
      }
      for (const origin of origins) {
        if (sources.some((s) => s.o.origin === origin)) throw r.error(`zone ${origin} is already served by another file directive in this block`);
        const src = new ZoneSource({ origin, file: filePath, reloadMs, byMtime }, ctx.logger);
        try {
          src.loadOrThrow();
        } catch (err) {
          if (err instanceof ConfigError) throw err;
          if (reloadMs === 0) throw r.error(`cannot read ${filePath}: ${(err as Error).message}`);
          ctx.logger.warn(`[WARNING] plugin/file: Failed to open "${filePath}": trying again in ${reloadMs / 1000}s`);
        }
        sources.push(src);
      }
    }
    const handler = new FileHandler({
      sources,
      fall,
      resolve: (name, type, parent) => ctx.process.resolve(ctx.port, name, type, parent),
    });
    const timers: NodeJS.Timeout[] = [];
    return {
      handler: (next) => handler.withNext(next),
      async start() {
        for (const s of sources) {
          if (s.o.reloadMs > 0) timers.push(setInterval(() => s.reloadIfChanged(), s.o.reloadMs).unref());
        }
      },
      async stop() {
        for (const t of timers.splice(0)) clearInterval(t);
      },
    };
  },
};

