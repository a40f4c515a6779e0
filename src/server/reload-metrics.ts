import { Counter } from 'prom-client';
import { once, registry } from '../metrics/registry.js';

export const reloadFailedTotal = once('coredns_reload_failed_total', () => new Counter({
  name: 'coredns_reload_failed_total',
  help: 'Counter of the number of failed reload attempts.',
  registers: [registry],
}));
