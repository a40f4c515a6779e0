import fs from 'node:fs';
import path from 'node:path';
import { KeyError, reverseZonesOf } from '../../corefile/address.js';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import type { ServerAddress } from '../../corefile/types.js';
import { canonicalName } from '../../dns/names.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginInstance, PluginSetup } from '../../plugin/types.js';
import { pluginZones } from '../../plugin/zones.js';
import { kubernetesConfigOf } from '../kubernetes/setup.js';
import { AutopathHandler, type SearchPathFunc } from './handler.js';
import { kubernetesSearchPath, type KubernetesPods } from './kubernetes.js';
import { resolvConfSearch, withSentinel } from './search-path.js';

/** Where `@kubernetes` takes the server's own search domains from, as CoreDNS does. */
const HOST_RESOLV_CONF = '/etc/resolv.conf';

/**
 * `autopath [ZONE...] RESOLV-CONF`: RESOLV-CONF is a resolv.conf(5) file (relative paths are from
 * the Corefile's directory) whose search domains every client is assumed to use, or `@kubernetes`
 * for the search path of the Pod that asks. ZONEs (names or CIDRs) default to the server block's.
 *
 * `@kubernetes` needs the kubernetes plugin in the same server block with `pods verified`; that is
 * checked in start(), when every plugin of the block is set up (CoreDNS checks the plugin in
 * OnStartup, and with `pods` not verified silently does nothing).
 */
export const autopath: PluginSetup = {
  name: 'autopath',
  setup(directives, ctx): PluginInstance {
    const r = new DirectiveReader(singleDirective('autopath', directives), 'autopath');
    r.noBlock();
    const args = r.args(0, Infinity);
    const resolv = args.pop();
    if (resolv === undefined) throw r.error('no resolv-conf specified');
    const zones = zonesFromArgs(r, args, ctx.addresses);

    if (!resolv.startsWith('@')) {
      const file = path.resolve(ctx.root, resolv);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw r.error(`failed to parse ${JSON.stringify(resolv)}: ${(err as Error).message}`);
      }
      const search = resolvConfSearch(text);
      if (search.length === 0) ctx.logger.warn(`[WARNING] plugin/autopath: ${file} has no search domains: no query will be autopathed`);
      const searchPath = search.length > 0 ? withSentinel(search) : undefined;
      const handler = new AutopathHandler(zones, () => searchPath);
      return { handler: (next) => handler.withNext(next) };
    }

    const name = resolv.slice(1);
    if (name !== 'kubernetes') throw r.error(`${name} does not implement the AutoPather interface`);
    const hostSearch = readHostSearch();
    let searchPath: SearchPathFunc = () => undefined;
    const handler = new AutopathHandler(zones, (req) => searchPath(req));
    return {
      handler: (next) => handler.withNext(next),
      async start() {
        const kube = ctx.siblings.get('kubernetes');
        if (!kube) throw r.error('@kubernetes needs the kubernetes plugin in the same server block');
        const pods = kubernetesConfigOf(kube)?.pods;
        if (pods !== 'verified') {
          throw r.error(`@kubernetes needs 'pods verified' in the kubernetes plugin (the client's Pod is found by its IP), not 'pods ${pods ?? 'disabled'}'`);
        }
        searchPath = kubernetesSearchPath(() => kube.exported as KubernetesPods | undefined, hostSearch);
      },
    };
  },
};

/** ZONE arguments as CoreDNS's OriginsFromArgsOrServerBlock reads them: names, or CIDRs for reverse zones. */
function zonesFromArgs(r: DirectiveReader, args: string[], addresses: ServerAddress[]): string[] {
  if (args.length === 0) return pluginZones([], addresses);
  const zones: string[] = [];
  for (const a of args) {
    if (!a.includes('/')) {
      zones.push(canonicalName(a));
      continue;
    }
    try {
      zones.push(...reverseZonesOf(a));
    } catch (err) {
      if (err instanceof KeyError) throw r.error(err.message);
      throw err;
    }
  }
  return zones;
}

/** The search domains of the server's own resolv.conf; none when it cannot be read (as CoreDNS). */
function readHostSearch(): string[] {
  try {
    return resolvConfSearch(fs.readFileSync(HOST_RESOLV_CONF, 'utf8'));
  } catch {
    return [];
  }
}
