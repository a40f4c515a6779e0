/** Server-level metrics (CoreDNS: core/dnsserver and plugin/metrics/vars names). */
import { Counter } from 'prom-client';
import { once, registry } from '../metrics/registry.js';

export const panicsTotal = once('coredns_panics_total', () => new Counter({
  name: 'coredns_panics_total',
  help: 'A metrics that counts the number of panics.',
  registers: [registry],
}));

export const malformedTotal = once('clusterdns_malformed_requests_total', () => new Counter({
  name: 'clusterdns_malformed_requests_total',
  help: 'Requests that could not be parsed, by what was done with them.',
  labelNames: ['action'] as const,
  registers: [registry],
}));

export const reloadFailedTotal = once('coredns_reload_failed_total', () => new Counter({
  name: 'coredns_reload_failed_total',
  help: 'Counter of the number of failed reload attempts.',
  registers: [registry],
}));
