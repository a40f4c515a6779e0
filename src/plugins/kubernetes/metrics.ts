/** kubernetes plugin metrics: CoreDNS's names where CoreDNS has one, clusterdns_ otherwise. */
import { Counter, Histogram } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';

/** CoreDNS: time from the EndpointSlice's last-change-trigger-time to the record being served. */
export const programmingDuration = once('coredns_kubernetes_dns_programming_duration_seconds', () => new Histogram({
  name: 'coredns_kubernetes_dns_programming_duration_seconds',
  help: 'Histogram of the time (in seconds) it took to program a dns instance.',
  labelNames: ['service_kind'] as const,
  // CoreDNS: prometheus.ExponentialBuckets(0.001, 2, 20)
  buckets: Array.from({ length: 20 }, (_, i) => 0.001 * 2 ** i),
  registers: [registry],
}));

export const watchEvents = once('clusterdns_kubernetes_watch_events_total', () => new Counter({
  name: 'clusterdns_kubernetes_watch_events_total',
  help: 'Objects delivered by the Kubernetes watch, by kind and operation.',
  labelNames: ['kind', 'op'] as const,
  registers: [registry],
}));

export const watchFailures = once('clusterdns_kubernetes_watch_failures_total', () => new Counter({
  name: 'clusterdns_kubernetes_watch_failures_total',
  help: 'Failed list or watch requests to the Kubernetes API server, by kind.',
  labelNames: ['kind'] as const,
  registers: [registry],
}));
