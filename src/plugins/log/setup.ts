import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { pluginZones } from '../../plugin/zones.js';
import { COMBINED_FORMAT, COMMON_FORMAT, logHandler, type LogClass } from './handler.js';

/**
 * `log [NAMES...] [FORMAT] { class CLASSES... }` as CoreDNS: NAMES are the zones to log (default
 * all of the server block), FORMAT is `{common}` (default), `{combined}` or a template with
 * CoreDNS's placeholders; classes: all (default), success, denial, error.
 */
export const log: PluginSetup = {
  name: 'log',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('log', directives), 'log');
    const args = r.args(0, Infinity);
    let format = COMMON_FORMAT;
    const names: string[] = [];
    for (const a of args) {
      if (a === '{common}') format = COMMON_FORMAT;
      else if (a === '{combined}') format = COMBINED_FORMAT;
      else if (a.includes('{')) format = a;
      else names.push(a);
    }
    const classes = new Set<LogClass>();
    for (const child of r.block()) {
      if (child.name !== 'class') r.unknownProperty(child);
      const c = new DirectiveReader(child, 'log');
      for (const cls of c.args(1, Infinity)) {
        if (!['all', 'success', 'denial', 'error'].includes(cls)) throw c.error(`unknown class ${JSON.stringify(cls)}: expected all, success, denial or error`);
        classes.add(cls as LogClass);
      }
    }
    if (classes.size === 0) classes.add('all');
    return { handler: logHandler({ zones: pluginZones(names, ctx.addresses), format, classes, logger: ctx.logger }) };
  },
};
