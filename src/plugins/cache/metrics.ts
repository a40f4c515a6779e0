/**
 * The cache metrics CoreDNS's plugin/cache exports (metrics.go), with its names, help texts and
 * labels. `type` is "success" or "denial"; `zones` the cache's zones joined with ","; `view` is
 * always empty (we have no views).
 */
import { Counter, Gauge } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';

export const cacheEntries = once('coredns_cache_entries', () => new Gauge({
  name: 'coredns_cache_entries', help: 'The number of elements in the cache.',
  labelNames: ['server', 'type', 'zones', 'view'] as const, registers: [registry],
}));
export const cacheRequests = once('coredns_cache_requests_total', () => new Counter({
  name: 'coredns_cache_requests_total', help: 'The count of cache requests.',
  labelNames: ['server', 'zones', 'view'] as const, registers: [registry],
}));
export const cacheHits = once('coredns_cache_hits_total', () => new Counter({
  name: 'coredns_cache_hits_total', help: 'The count of cache hits.',
  labelNames: ['server', 'type', 'zones', 'view'] as const, registers: [registry],
}));
export const cacheMisses = once('coredns_cache_misses_total', () => new Counter({
  name: 'coredns_cache_misses_total', help: 'The count of cache misses. Deprecated, derive misses from cache hits/requests counters.',
  labelNames: ['server', 'zones', 'view'] as const, registers: [registry],
}));
export const cachePrefetches = once('coredns_cache_prefetch_total', () => new Counter({
  name: 'coredns_cache_prefetch_total', help: 'The number of times the cache has prefetched a cached item.',
  labelNames: ['server', 'zones', 'view'] as const, registers: [registry],
}));
export const cacheDrops = once('coredns_cache_drops_total', () => new Counter({
  name: 'coredns_cache_drops_total', help: 'The number responses that are not cached, because the reply is malformed.',
  labelNames: ['server', 'zones', 'view'] as const, registers: [registry],
}));
export const cacheServedStale = once('coredns_cache_served_stale_total', () => new Counter({
  name: 'coredns_cache_served_stale_total', help: 'The number of requests served from stale cache entries.',
  labelNames: ['server', 'zones', 'view'] as const, registers: [registry],
}));
export const cacheEvictions = once('coredns_cache_evictions_total', () => new Counter({
  name: 'coredns_cache_evictions_total', help: 'The count of cache evictions.',
  labelNames: ['server', 'type', 'zones', 'view'] as const, registers: [registry],
}));
