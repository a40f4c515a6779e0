/** Every compiled-in plugin, by name. Execution order is src/plugin/order.ts, not this list. */
import type { PluginSetup } from '../plugin/types.js';
import { errors } from './errors/setup.js';
import { health } from './health/setup.js';
import { hosts } from './hosts/setup.js';
import { log } from './log/setup.js';
import { prometheus } from './prometheus/setup.js';
import { ready } from './ready/setup.js';
import { whoami } from './whoami/setup.js';

export function allPlugins(): Map<string, PluginSetup> {
  const list: PluginSetup[] = [errors, health, hosts, log, prometheus, ready, whoami];
  return new Map(list.map((p) => [p.name, p]));
}
