/** The acl counters CoreDNS's plugin/acl exports (metrics.go), with its names and labels. */
import { Counter } from 'prom-client';
import { once, registry } from '../../metrics/registry.js';

export const blockedTotal = once('coredns_acl_blocked_requests_total', () => new Counter({
  name: 'coredns_acl_blocked_requests_total', help: 'Counter of DNS requests being blocked.',
  labelNames: ['server', 'zone', 'view'] as const, registers: [registry],
}));
export const filteredTotal = once('coredns_acl_filtered_requests_total', () => new Counter({
  name: 'coredns_acl_filtered_requests_total', help: 'Counter of DNS requests being filtered.',
  labelNames: ['server', 'zone', 'view'] as const, registers: [registry],
}));
/** No zone label, as in CoreDNS: an allowed query may have matched no rule's zone. */
export const allowedTotal = once('coredns_acl_allowed_requests_total', () => new Counter({
  name: 'coredns_acl_allowed_requests_total', help: 'Counter of DNS requests being allowed.',
  labelNames: ['server', 'view'] as const, registers: [registry],
}));
export const droppedTotal = once('coredns_acl_dropped_requests_total', () => new Counter({
  name: 'coredns_acl_dropped_requests_total', help: 'Counter of DNS requests being dropped.',
  labelNames: ['server', 'zone', 'view'] as const, registers: [registry],
}));
