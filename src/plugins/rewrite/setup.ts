import { DirectiveReader } from '../../corefile/directive-reader.js';
import type { Directive } from '../../corefile/types.js';
import type { PluginSetup } from '../../plugin/types.js';
import { RewriteHandler } from './handler.js';
import { parseRule, RuleError, type Rule } from './rules.js';

/**
 * `rewrite [continue|stop] FIELD ARGS...`, or `rewrite [continue|stop] { FIELD ARGS... }` whose block
 * tokens form one rule (as CoreDNS reads it: the tokens of every block line are joined). Every
 * rewrite directive of a server block adds one rule to a single list, tried in Corefile order.
 */
export const rewrite: PluginSetup = {
  name: 'rewrite',
  setup(directives, ctx) {
    const rules = directives.map(parseDirective);
    const handler = new RewriteHandler(rules, ctx.logger);
    return { handler: (next) => handler.withNext(next) };
  },
};

/** One directive's rule (exported for tests). */
export function parseDirective(d: Directive): Rule {
  const r = new DirectiveReader(d, 'rewrite');
  const args = r.args(0, Infinity);
  if (args.length < 2) {
    for (const line of r.block()) {
      if (line.block !== undefined) throw r.error(`'${line.name}' does not take a block`, line.line);
      args.push(line.name, ...line.args);
    }
  } else if (d.block !== undefined) {
    throw r.error(`a rule written on the directive line takes no block: write 'rewrite ${args.join(' ')}' alone, or put the whole rule in the block`);
  }
  try {
    return parseRule(args);
  } catch (err) {
    if (err instanceof RuleError) throw r.error(err.message);
    throw err;
  }
}
