/** Every compiled-in plugin, by name. Execution order is src/plugin/order.ts, not this list. */
import type { PluginSetup } from '../plugin/types.js';
import { acl } from './acl/setup.js';
import { any } from './any/setup.js';
import { autopath } from './autopath/setup.js';
import { cache } from './cache/setup.js';
import { chaos } from './chaos/setup.js';
import { errors } from './errors/setup.js';
import { file } from './file/setup.js';
import { forward } from './forward/setup.js';
import { health } from './health/setup.js';
import { hosts } from './hosts/setup.js';
import { kubernetes } from './kubernetes/setup.js';
import { loadbalance } from './loadbalance/setup.js';
import { log } from './log/setup.js';
import { loop } from './loop/setup.js';
import { minimal } from './minimal/setup.js';
import { nsid } from './nsid/setup.js';
import { prometheus } from './prometheus/setup.js';
import { ready } from './ready/setup.js';
import { reload } from './reload/setup.js';
import { rewrite } from './rewrite/setup.js';
import { whoami } from './whoami/setup.js';

export function allPlugins(): Map<string, PluginSetup> {
  const list: PluginSetup[] = [cache, loadbalance, reload, errors, health, hosts, log, prometheus, ready, whoami, forward, loop, chaos, nsid, any, minimal, rewrite, acl, file, kubernetes, autopath];
  return new Map(list.map((p) => [p.name, p]));
}
