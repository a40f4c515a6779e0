import os from 'node:os';
import { Rcode } from '../../dns/constants.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginInstance, PluginSetup } from '../../plugin/types.js';
import { parseKubernetesConfig, type KubernetesConfig } from './config.js';
import { KubernetesHandler } from './handler.js';
import { acquireSource } from './source.js';

/**
 * `kubernetes [ZONES...] { ... }`: see config.ts for the options and README.md for their meaning.
 * start() begins (or joins) the watch and waits up to `startup_timeout` (default 5 s) for the first
 * list, as CoreDNS does; until the list completes, queries get SERVFAIL and /ready says 503.
 */
export const kubernetes: PluginSetup = {
  name: 'kubernetes',
  setup(directives, ctx): PluginInstance {
    const cfg = parseKubernetesConfig(singleDirective('kubernetes', directives), ctx.addresses, ctx.root);
    let acquired: ReturnType<typeof acquireSource> | undefined;
    let handler: KubernetesHandler | undefined;
    const instance: PluginInstance = {
      // The chain is built before start() creates the source: until then the plugin answers SERVFAIL.
      handler: (next) => ({
        name: 'kubernetes',
        serveDNS: (req, w) => (handler ? handler.serve(next, req, w) : Promise.resolve(Rcode.SERVFAIL)),
      }),
      ready: () => acquired?.source.synced() ?? false,
      get exported() {
        return handler;
      },
      async start() {
        acquired = acquireSource(cfg, ctx.logger);
        handler = new KubernetesHandler(cfg, acquired.source, ctx.process, ctx.port, localAddresses());
        let timer: NodeJS.Timeout | undefined;
        const synced = await Promise.race([
          acquired.source.whenSynced().then(() => true, () => false),
          new Promise<boolean>((r) => { timer = setTimeout(() => r(false), cfg.startupTimeoutMs); }),
        ]);
        clearTimeout(timer);
        if (!synced) ctx.logger.warn('[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API');
      },
      async stop() {
        await acquired?.release();
      },
    };
    configs.set(instance, cfg);
    return instance;
  },
};

const configs = new WeakMap<PluginInstance, KubernetesConfig>();

/** The parsed config of a kubernetes instance, known before start() (autopath checks `pods verified`). */
export function kubernetesConfigOf(instance: PluginInstance): KubernetesConfig | undefined {
  return configs.get(instance);
}

/** Our own addresses, for ns.dns.<zone> (CoreDNS falls back to the local IPs when it cannot find its Service). */
function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80')) out.push(a.address);
  }
  return out.length > 0 ? out : ['127.0.0.1'];
}
