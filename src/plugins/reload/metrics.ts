/**
 * coredns_reload_version_info (CoreDNS plugin/reload metrics.go). coredns_reload_failed_total is
 * counted by the supervisor, which performs the reload (src/server/metrics.ts).
 */
import { Gauge } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';

export const reloadInfo = once('coredns_reload_version_info', () => new Gauge({
  name: 'coredns_reload_version_info',
  help: "A metric with a constant '1' value labeled by hash, and value which type of hash generated.",
  labelNames: ['hash', 'value'] as const,
  registers: [registry],
  // With -workers N the primary sums the workers' registries; a flag stays a flag.
  aggregator: 'max',
}));
