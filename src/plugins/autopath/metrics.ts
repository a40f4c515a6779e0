/** The autopath metric CoreDNS's plugin/autopath exports (metrics.go), with its name, help and label. */
import { Counter } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';

export const autopathSuccess = once('coredns_autopath_success_total', () => new Counter({
  name: 'coredns_autopath_success_total',
  help: 'Counter of requests that did autopath.',
  labelNames: ['server'] as const,
  registers: [registry],
}));
