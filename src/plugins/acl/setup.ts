import { DirectiveReader } from '../../corefile/directive-reader.js';
import type { Directive, ServerAddress } from '../../corefile/types.js';
import type { PluginSetup } from '../../plugin/types.js';
import { pluginZones } from '../../plugin/zones.js';
import { AclHandler } from './handler.js';
import { parsePolicy, PolicyError, type AclRule } from './policy.js';

/**
 * `acl [ZONES...] { allow|block|filter|drop [type QTYPE...] [net SOURCE...] }`. May be used several
 * times in a server block: each directive is one rule, checked in Corefile order.
 */
export const acl: PluginSetup = {
  name: 'acl',
  setup(directives, ctx) {
    const rules = directives.map((d) => parseAclDirective(d, ctx.addresses));
    const handler = new AclHandler(rules, ctx.logger);
    return { handler: (next) => handler.withNext(next) };
  },
};

/** One directive's rule (exported for tests). */
export function parseAclDirective(d: Directive, addresses: ServerAddress[]): AclRule {
  const r = new DirectiveReader(d, 'acl');
  const zones = pluginZones(r.args(0, Infinity), addresses);
  const policies = r.block().map((line) => {
    const c = r.child(line);
    if (line.block !== undefined) throw c.error(`'${line.name}' does not take a block`);
    try {
      return parsePolicy(line.name, line.args);
    } catch (err) {
      if (err instanceof PolicyError) throw c.error(err.message);
      throw err;
    }
  });
  return { zones, policies };
}
