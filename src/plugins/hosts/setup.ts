import fs from 'node:fs';
import path from 'node:path';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { Fallthrough, pluginZones } from '../../plugin/zones.js';
import { HostsHandler } from './handler.js';

/**
 * `hosts [FILE [ZONES...]] { [INLINE] ttl SECONDS no_reverse reload DURATION fallthrough [ZONES...] }`
 * FILE defaults to /etc/hosts, ttl to 3600, reload to 5s (0 disables). Inline lines are hosts(5)
 * lines inside the block.
 */
export const hosts: PluginSetup = {
  name: 'hosts',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('hosts', directives), 'hosts');
    const [fileArg, ...zoneArgs] = r.args(0, Infinity);
    const file = fileArg === undefined ? '/etc/hosts' : path.resolve(ctx.root, fileArg);
    const zones = pluginZones(zoneArgs, ctx.addresses);
    let ttl = 3600;
    let reverse = true;
    let reloadMs = 5000;
    let fall = Fallthrough.none();
    const inline: string[] = [];
    for (const child of r.block()) {
      const c = new DirectiveReader(child, 'hosts');
      switch (child.name) {
        case 'ttl': ttl = c.integer(c.args(1, 1)[0]!, 1, 2147483647); break;
        case 'no_reverse': c.args(0, 0); reverse = false; break;
        case 'reload': reloadMs = c.duration(c.args(1, 1)[0]!); break;
        case 'fallthrough': fall = Fallthrough.parse(child.args); break;
        default:
          // An inline hosts line starts with an address.
          if (/^[0-9a-fA-F:.]+(%\S+)?$/.test(child.name) && child.name.match(/[.:]/)) inline.push([child.name, ...child.args].join(' '));
          else r.unknownProperty(child);
      }
    }
    if (fileArg !== undefined && !fs.existsSync(file)) ctx.logger.warn(`[WARNING] plugin/hosts: File does not exist: ${file}`);
    const handler = new HostsHandler({ file, zones, ttl, reverse, fall, inline: inline.join('\n'), logger: ctx.logger });
    let timer: NodeJS.Timeout | undefined;
    return {
      handler: (next) => handler.withNext(next),
      async start() {
        handler.load();
        if (reloadMs > 0) timer = setInterval(() => handler.reloadIfChanged(), reloadMs).unref();
      },
      async stop() {
        if (timer) clearInterval(timer);
      },
    };
  },
};
