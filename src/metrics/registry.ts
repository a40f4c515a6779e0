/**
 * The process-wide Prometheus registry. Metrics are defined by the module that owns them (a plugin's
 * metrics.ts, the server's metrics) on this registry; the prometheus plugin only exposes it.
 * Names follow CoreDNS so its Grafana dashboards work unchanged.
 */
import { Registry } from 'prom-client';

export const registry = new Registry();

/** Gets a metric already registered under `name`, or creates it (plugins are set up again on every reload). */
export function once<T>(name: string, create: () => T): T {
  const existing = registry.getSingleMetric(name);
  return (existing as T | undefined) ?? create();
}
