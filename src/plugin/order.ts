/**
 * Execution order of plugins, as CoreDNS's plugin.cfg: the Corefile's order does not matter.
 * Only names listed here are accepted in a Corefile (others are "unknown directive").
 */
export const PLUGIN_ORDER = [
  'reload',
  'nsid',
  'bufsize',
  'root',
  'bind',
  'debug',
  'health',
  'ready',
  'prometheus',
  'errors',
  'log',
  'chaos',
  'loadbalance',
  'cache',
  'rewrite',
  'acl',
  'minimal',
  'any',
  'loop',
  'hosts',
  'autopath',
  'kubernetes',
  'file',
  'forward',
  'whoami',
] as const;

export type PluginName = (typeof PLUGIN_ORDER)[number];

const rank = new Map<string, number>(PLUGIN_ORDER.map((n, i) => [n, i]));

export function pluginRank(name: string): number | undefined {
  return rank.get(name);
}
