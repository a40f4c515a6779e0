import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { loadbalanceHandler, parseSubnet, type PreferSubnet } from './handler.js';

/**
 * `loadbalance [round_robin] { prefer CIDR [CIDR...] }`. The `weighted` policy (a weight file) is
 * not supported and is refused with a message saying so.
 */
export const loadbalance: PluginSetup = {
  name: 'loadbalance',
  setup(directives) {
    const r = new DirectiveReader(singleDirective('loadbalance', directives), 'loadbalance');
    const [policy, ...extra] = r.args(0, Infinity);
    if (policy === 'weighted') {
      throw r.error(`policy 'weighted' is not supported by clusterdns: use 'loadbalance' or 'loadbalance round_robin'`);
    }
    if (policy !== undefined && policy !== 'round_robin') throw r.error(`unknown policy: ${policy}`);
    if (extra.length > 0) throw r.error(`unknown property for round_robin: '${extra.join(' ')}'`);
    const prefer: PreferSubnet[] = [];
    for (const p of r.block()) {
      const c = r.child(p);
      if (p.name !== 'prefer') r.unknownProperty(p);
      for (const cidr of c.args(0, Infinity)) {
        const s = parseSubnet(cidr);
        if (!s) throw c.error(`invalid CIDR "${cidr}"`);
        prefer.push(s);
      }
    }
    return { handler: loadbalanceHandler(prefer) };
  },
};
