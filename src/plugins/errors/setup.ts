import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { errorsHandler, type ConsolidateRule } from './handler.js';

/**
 * `errors { consolidate DURATION REGEXP [LEVEL] }`: log every error a plugin raises while serving,
 * answering SERVFAIL for that query; consolidate folds matching errors into one line per period.
 */
export const errors: PluginSetup = {
  name: 'errors',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('errors', directives), 'errors');
    r.args(0, 0);
    const rules: ConsolidateRule[] = [];
    for (const child of r.block()) {
      if (child.name !== 'consolidate') r.unknownProperty(child);
      const c = new DirectiveReader(child, 'errors');
      const [period, pattern, level = 'error'] = c.args(2, 3);
      let regex: RegExp;
      try {
        regex = new RegExp(pattern!);
      } catch (err) {
        throw c.error(`invalid regexp ${JSON.stringify(pattern)}: ${(err as Error).message}`);
      }
      if (!['warning', 'error', 'info', 'debug'].includes(level)) throw c.error(`unknown log level ${JSON.stringify(level)}: expected warning, error, info or debug`);
      rules.push({ periodMs: c.duration(period!), regex, level: level === 'warning' ? 'warn' : (level as 'error' | 'info' | 'debug') });
    }
    const h = errorsHandler(rules, ctx.logger);
    return { handler: h.factory, stop: async () => h.stop() };
  },
};
