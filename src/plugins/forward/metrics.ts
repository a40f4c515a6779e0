/**
 * The forward plugin's metrics, with CoreDNS's names, labels and buckets:
 * - coredns_forward_* as CoreDNS 1.7–1.10 exported them (plugin/forward/metrics.go), which most
 *   Grafana dashboards and alerts still use;
 * - coredns_proxy_* as CoreDNS exports them since 1.11 (plugin/pkg/proxy/metrics.go).
 * Both are kept up to date, so either generation of dashboards works.
 */
import { Counter, Histogram } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';

// plugin.TimeBuckets = prometheus.ExponentialBuckets(0.00025, 2, 16)
const timeBuckets = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

export const requestsTotal = once('coredns_forward_requests_total', () => new Counter({
  name: 'coredns_forward_requests_total', help: 'Counter of requests made per upstream.',
  labelNames: ['to'] as const, registers: [registry],
}));
export const responsesTotal = once('coredns_forward_responses_total', () => new Counter({
  name: 'coredns_forward_responses_total', help: 'Counter of responses received per upstream.',
  labelNames: ['rcode', 'to'] as const, registers: [registry],
}));
export const requestDuration = once('coredns_forward_request_duration_seconds', () => new Histogram({
  name: 'coredns_forward_request_duration_seconds', help: 'Histogram of the time each request took.',
  labelNames: ['to', 'rcode'] as const, buckets: timeBuckets, registers: [registry],
}));
export const healthcheckFailures = once('coredns_forward_healthcheck_failures_total', () => new Counter({
  name: 'coredns_forward_healthcheck_failures_total', help: 'Counter of the number of failed healthchecks.',
  labelNames: ['to'] as const, registers: [registry],
}));
export const healthcheckBroken = once('coredns_forward_healthcheck_broken_total', () => new Counter({
  name: 'coredns_forward_healthcheck_broken_total', help: 'Counter of the number of complete failures of the healthchecks.',
  registers: [registry],
}));
export const maxConcurrentRejects = once('coredns_forward_max_concurrent_rejects_total', () => new Counter({
  name: 'coredns_forward_max_concurrent_rejects_total', help: 'Counter of the number of queries rejected because the concurrent queries were at maximum.',
  registers: [registry],
}));

export const proxyRequestDuration = once('coredns_proxy_request_duration_seconds', () => new Histogram({
  name: 'coredns_proxy_request_duration_seconds', help: 'Histogram of the time each request took.',
  labelNames: ['proxy_name', 'to', 'rcode'] as const, buckets: timeBuckets, registers: [registry],
}));
export const proxyHealthcheckFailures = once('coredns_proxy_healthcheck_failures_total', () => new Counter({
  name: 'coredns_proxy_healthcheck_failures_total', help: 'Counter of the number of failed healthchecks.',
  labelNames: ['proxy_name', 'to'] as const, registers: [registry],
}));
export const connCacheHits = once('coredns_proxy_conn_cache_hits_total', () => new Counter({
  name: 'coredns_proxy_conn_cache_hits_total', help: 'Counter of connection cache hits per upstream and protocol.',
  labelNames: ['proxy_name', 'to', 'proto'] as const, registers: [registry],
}));
export const connCacheMisses = once('coredns_proxy_conn_cache_misses_total', () => new Counter({
  name: 'coredns_proxy_conn_cache_misses_total', help: 'Counter of connection cache misses per upstream and protocol.',
  labelNames: ['proxy_name', 'to', 'proto'] as const, registers: [registry],
}));

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** miekg/dns RcodeToString for the header rcodes, the number otherwise (as CoreDNS labels them). */
export function rcodeLabel(rcode: number): string {
  return RCODE_NAMES[rcode] ?? String(rcode);
}
