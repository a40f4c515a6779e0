/**
 * The request metrics CoreDNS's plugin/metrics exports (vars.go), with its names, labels and
 * buckets, so CoreDNS's Grafana dashboards and alerts work unchanged.
 */
import { createRequire } from 'node:module';
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';
import { SERVER_NAME, VERSION } from '../../version.js';

const sizeBuckets = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];
// prometheus.ExponentialBuckets(0.00025, 2, 16)
const durationBuckets = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

export const requestsTotal = once('coredns_dns_requests_total', () => new Counter({
  name: 'coredns_dns_requests_total', help: 'Counter of DNS requests made per zone, protocol and family.',
  labelNames: ['server', 'zone', 'view', 'proto', 'family', 'type'] as const, registers: [registry],
}));
export const responsesTotal = once('coredns_dns_responses_total', () => new Counter({
  name: 'coredns_dns_responses_total', help: 'Counter of response status codes.',
  labelNames: ['server', 'zone', 'view', 'rcode', 'plugin'] as const, registers: [registry],
}));
export const requestDuration = once('coredns_dns_request_duration_seconds', () => new Histogram({
  name: 'coredns_dns_request_duration_seconds', help: 'Histogram of the time (in seconds) each request took per zone.',
  labelNames: ['server', 'zone', 'view', 'type'] as const, buckets: durationBuckets, registers: [registry],
}));
export const requestSize = once('coredns_dns_request_size_bytes', () => new Histogram({
  name: 'coredns_dns_request_size_bytes', help: 'Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.',
  labelNames: ['server', 'zone', 'view', 'proto'] as const, buckets: sizeBuckets, registers: [registry],
}));
export const responseSize = once('coredns_dns_response_size_bytes', () => new Histogram({
  name: 'coredns_dns_response_size_bytes', help: 'Size of the returned response in bytes.',
  labelNames: ['server', 'zone', 'view', 'proto'] as const, buckets: sizeBuckets, registers: [registry],
}));
export const pluginEnabled = once('coredns_plugin_enabled', () => new Gauge({
  name: 'coredns_plugin_enabled', help: 'A metric that indicates whether a plugin is enabled on per server and zone basis.',
  labelNames: ['server', 'zone', 'view', 'name'] as const, registers: [registry],
  // With -workers N the primary sums the workers' registries; a flag stays a flag.
  aggregator: 'max',
}));

let processMetricsStarted = false;

/**
 * prom-client's default metrics, registered module by module as collectDefaultMetrics does
 * (its `collectDefaultMetrics.metricsList`, each a lib/metrics/<name>.js), minus `gc`:
 * nodejs_gc_duration_seconds observes every GC through a PerformanceObserver, whose per-GC entries
 * outlive the next scavenge. Under 40-55k qps at 10k objects they were 3.8 MB of the 5.7 MB that
 * reached V8's old generation in 12 s (sampling heap profiler, objects collected by major GCs),
 * growing the old generation ~0.6 MB/s between full collections. CoreDNS's dashboards read no GC
 * metric (CoreDNS exports go_gc_*, which no Node server can). test/prometheus-process.test.ts checks
 * that every other default metric is exported and the GC histogram is not.
 */
export function defaultMetricModules(): string[] {
  return collectDefaultMetrics.metricsList.filter((m) => m !== 'gc');
}

function registerDefaultMetrics(target: Registry): void {
  const require = createRequire(import.meta.url);
  for (const name of defaultMetricModules()) {
    const register = require(`prom-client/lib/metrics/${name}.js`) as (r: Registry, c: { eventLoopMonitoringPrecision: number }) => void;
    register(target, { eventLoopMonitoringPrecision: 10 });
  }
}

/** coredns_build_info and the process_* / nodejs_* metrics, registered once per process. */
export function startProcessMetrics(): void {
  if (processMetricsStarted) return;
  processMetricsStarted = true;
  const info = new Gauge({
    name: 'coredns_build_info', help: 'A metric with a constant \'1\' value labeled by version, revision, and goversion from which CoreDNS was built.',
    labelNames: ['version', 'revision', 'goversion'] as const, registers: [registry], aggregator: 'max',
  });
  info.set({ version: VERSION, revision: SERVER_NAME, goversion: process.version }, 1);
  registerDefaultMetrics(registry);
}
