/**
 * Test support for the kubernetes store and lookup: records as zone-file text
 * ("svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1") and terse builders for slim objects.
 */
import assert from 'node:assert/strict';
import type { ResourceRecord } from '../dns/message.js';
import { rrToString } from '../dns/presentation.js';
import type { SlimEndpoint, SlimEndpointSlice, SlimPort, SlimService } from './objects.js';

/** A record as one zone-file line with single spaces (src/dns/presentation.ts's rrToString). */
export function rrText(rr: ResourceRecord): string {
  return norm(rrToString(rr));
}

/** Normalizes whitespace so expectations can be written with tabs or several spaces. */
export function norm(s: string): string {
  return s.trim().split(/\s+/).join(' ');
}

/** Compares records with expected zone-file lines, order-insensitive (CoreDNS's sortAndCheck). */
export function checkRecords(got: readonly ResourceRecord[], want: readonly string[] | undefined, what: string): void {
  assert.deepEqual(got.map(rrText).sort(), (want ?? []).map(norm).sort(), what);
}

export function port(name: string, p: number, protocol: 'TCP' | 'UDP' | 'SCTP' = 'TCP'): SlimPort {
  return { name, port: p, protocol };
}

export function clusterIpService(namespace: string, name: string, clusterIPs: string[], ports: SlimPort[] = [port('http', 80)], extra: Partial<SlimService> = {}): SlimService {
  return { namespace, name, type: 'ClusterIP', clusterIPs, headless: false, ports, publishNotReadyAddresses: false, ...extra };
}

export function headlessService(namespace: string, name: string, ports: SlimPort[] = [], extra: Partial<SlimService> = {}): SlimService {
  return { namespace, name, type: 'ClusterIP', clusterIPs: [], headless: true, ports, publishNotReadyAddresses: false, ...extra };
}

export function externalService(namespace: string, name: string, externalName: string): SlimService {
  return { namespace, name, type: 'ExternalName', clusterIPs: [], headless: false, externalName, ports: [port('http', 80)], publishNotReadyAddresses: false };
}

export function endpoint(ip: string | string[], extra: Partial<SlimEndpoint> = {}): SlimEndpoint {
  return { addresses: Array.isArray(ip) ? ip : [ip], ready: true, serving: true, terminating: false, ...extra };
}

export function slice(namespace: string, name: string, serviceName: string, endpoints: SlimEndpoint[], ports: SlimPort[] = [], addressType: SlimEndpointSlice['addressType'] = 'IPv4'): SlimEndpointSlice {
  return { namespace, name, serviceName, addressType, ports, endpoints };
}
