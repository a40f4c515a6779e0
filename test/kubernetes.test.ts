/**
 * The kubernetes plugin end to end: the real CLI with a Corefile like kubeadm's, fed by a live
 * watch on the Kubernetes API test double, asked by real clients (our raw client, Node's c-ares
 * Resolver, dig when installed). Answers are checked as CoreDNS's tests check them: a table of
 * cases with records written as zone-file text, compared sorted.
 *
 * One API server and one DNS server serve most of the file: the API starts hung, so the first
 * test sees /ready 503 and SERVFAIL before the first list; the others then use the synced server.
 */
import assert from 'node:assert/strict';
import dns from 'node:dns';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import type { Message, ResourceRecord } from '../src/dns/message.js';
import { ipToReverseName } from '../src/dns/names.js';
import { parseRR, rrToString } from '../src/dns/presentation.js';
import { dig, hasDig } from './support/dig.js';
import { query } from './support/dns-client.js';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi, type KubeObject } from './support/fake-kube-api.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { UpstreamServer, rr } from './support/upstream-server.js';

// ---- the cluster -------------------------------------------------------------------------------

interface Ep {
  ip: string;
  hostname?: string;
  ready?: boolean;
  terminating?: boolean;
  pod?: string;
}
type Port = { name?: string; port: number; protocol?: 'TCP' | 'UDP' };

const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const svc = (namespace: string, name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec, ...(status && { status }),
});
const headless = (namespace: string, name: string, ports: Port[], extra: Record<string, unknown> = {}): KubeObject =>
  svc(namespace, name, { clusterIP: 'None', clusterIPs: ['None'], selector: { app: name }, ports, ...extra });
const slice = (
  namespace: string, service: string, name: string, addressType: 'IPv4' | 'IPv6', ports: Port[], eps: Ep[], trigger?: Date,
): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: {
    namespace, name, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    ...(trigger && { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': trigger.toISOString() } }),
  },
  addressType,
  ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  endpoints: eps.map((e) => ({
    addresses: [e.ip],
    conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false },
    ...(e.hostname && { hostname: e.hostname }),
    nodeName: 'node-1',
    targetRef: { kind: 'Pod', namespace, name: e.pod ?? `${service}-${e.ip.replace(/[.:]/g, '-')}` },
  })),
});

const HTTP: Port[] = [{ name: 'http', port: 80 }, { name: 'https', port: 443 }];
const HTTP_TARGET: Port[] = [{ name: 'http', port: 8080 }, { name: 'https', port: 8443 }];

const cluster = (): KubeObject[] => [
  ns('default'), ns('kube-system'), ns('prod'), ns('staging'),
  svc('default', 'kubernetes', { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] }),
  slice('default', 'kubernetes', 'kubernetes', 'IPv4', [{ name: 'https', port: 6443 }], [{ ip: '192.168.0.10' }]),
  svc('kube-system', 'kube-dns', {
    clusterIP: '10.96.0.100', selector: { 'k8s-app': 'kube-dns' },
    ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'metrics', port: 9153 }],
  }),
  slice('kube-system', 'kube-dns', 'kube-dns-a', 'IPv4',
    [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }, { name: 'metrics', port: 9153 }],
    [{ ip: '10.244.0.5' }, { ip: '10.244.0.6' }]),
  // ClusterIP with two named ports; its endpoints spread over two slices, some not ready or terminating.
  svc('prod', 'web', { clusterIP: '10.96.0.10', selector: { app: 'web' }, ports: HTTP }),
  slice('prod', 'web', 'web-a', 'IPv4', HTTP_TARGET, [{ ip: '10.1.0.1' }, { ip: '10.1.0.2', ready: false }]),
  slice('prod', 'web', 'web-b', 'IPv4', HTTP_TARGET, [{ ip: '10.1.0.3' }, { ip: '10.1.0.4', ready: false, terminating: true }]),
  // One unnamed port.
  svc('prod', 'api', { clusterIP: '10.96.0.11', selector: { app: 'api' }, ports: [{ port: 8080 }] }),
  slice('prod', 'api', 'api-a', 'IPv4', [{ port: 8080 }], [{ ip: '10.1.0.20' }]),
  // Dual-stack and IPv6-only.
  svc('prod', 'dual', {
    clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20', 'fd00::20'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack',
    selector: { app: 'dual' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
  }),
  slice('prod', 'dual', 'dual-v4', 'IPv4', [{ name: 'dns', port: 53, protocol: 'UDP' }], [{ ip: '10.1.1.1' }]),
  slice('prod', 'dual', 'dual-v6', 'IPv6', [{ name: 'dns', port: 53, protocol: 'UDP' }], [{ ip: 'fd00:1::1' }]),
  svc('prod', 'v6', { clusterIP: 'fd00::30', clusterIPs: ['fd00::30'], ipFamilies: ['IPv6'], selector: { app: 'v6' }, ports: [{ name: 'http', port: 80 }] }),
  slice('prod', 'v6', 'v6-a', 'IPv6', [{ name: 'http', port: 8080 }], [{ ip: 'fd00:1::30' }]),
  // NodePort and LoadBalancer: served by their ClusterIP only (external addresses are not cluster DNS).
  svc('prod', 'np', { type: 'NodePort', clusterIP: '10.96.0.40', selector: { app: 'np' }, ports: [{ name: 'http', port: 80, nodePort: 30080 }] }),
  svc('prod', 'lb', {
    type: 'LoadBalancer', clusterIP: '10.96.0.50', externalIPs: ['198.51.100.50'], selector: { app: 'lb' },
    ports: [{ name: 'https', port: 443, nodePort: 30443 }],
  }, { loadBalancer: { ingress: [{ ip: '203.0.113.5' }] } }),
  slice('prod', 'lb', 'lb-a', 'IPv4', [{ name: 'https', port: 8443 }], [{ ip: '10.1.0.50' }]),
  svc('prod', 'noeps', { clusterIP: '10.96.0.60', selector: { app: 'none' }, ports: [{ name: 'http', port: 80 }] }),
  // Headless with hostnames (a StatefulSet), one endpoint without, one not ready, and an IPv6 slice.
  headless('prod', 'db', [{ name: 'mysql', port: 3306 }]),
  slice('prod', 'db', 'db-a', 'IPv4', [{ name: 'mysql', port: 3306 }], [
    { ip: '10.1.2.1', hostname: 'db-0' }, { ip: '10.1.2.2', hostname: 'db-1' }, { ip: '10.1.2.3' },
    { ip: '10.1.2.4', hostname: 'db-2', ready: false },
  ]),
  slice('prod', 'db', 'db-b', 'IPv6', [{ name: 'mysql', port: 3306 }], [{ ip: 'fd00:2::1', hostname: 'db-0' }]),
  // Headless without hostnames and without ports.
  headless('prod', 'plain', []),
  slice('prod', 'plain', 'plain-a', 'IPv4', [], [{ ip: '10.1.3.1' }, { ip: '10.1.3.2' }]),
  // publishNotReadyAddresses: not-ready endpoints are published too.
  headless('prod', 'etcd', [{ name: 'peer', port: 2380 }], { publishNotReadyAddresses: true }),
  slice('prod', 'etcd', 'etcd-a', 'IPv4', [{ name: 'peer', port: 2380 }], [
    { ip: '10.1.4.1', hostname: 'etcd-0', ready: false }, { ip: '10.1.4.2', hostname: 'etcd-1' },
  ]),
  // Headless without endpoints, and with only not-ready ones.
  headless('prod', 'empty', [{ name: 'http', port: 80 }]),
  headless('prod', 'down', [{ name: 'http', port: 80 }]),
  slice('prod', 'down', 'down-a', 'IPv4', [{ name: 'http', port: 80 }], [{ ip: '10.1.5.1', ready: false }]),
  // ExternalName: to a name the file plugin serves, one hosts serves, one only the upstream knows,
  // one nobody knows, and one inside the cluster zone.
  svc('prod', 'ext', { type: 'ExternalName', externalName: 'www.example.org' }),
  svc('prod', 'search', { type: 'ExternalName', externalName: 'search.example.net' }),
  svc('prod', 'outside', { type: 'ExternalName', externalName: 'www.external.test' }),
  svc('prod', 'dangling', { type: 'ExternalName', externalName: 'gone.external.test' }),
  svc('prod', 'alias', { type: 'ExternalName', externalName: 'web.prod.svc.cluster.local' }),
  svc('prod', 'to-new', { type: 'ExternalName', externalName: 'new.prod.svc.cluster.local' }),
];

// ---- comparing answers -------------------------------------------------------------------------

const TTL = 5;
const soa = (zone: string): string => `${zone} ${TTL} IN SOA ns.dns.${zone} hostmaster.${zone} 0 7200 1800 86400 ${TTL}`;
const SOA = soa('cluster.local.');
const startSec = Math.floor(Date.now() / 1000);

/** A record as text, the SOA serial checked (Unix seconds of the last change) and zeroed. */
function text(r: ResourceRecord): string {
  if (r.type === RRType.SOA && 'serial' in r) {
    assert.ok(r.serial >= startSec && r.serial < Math.floor(Date.now() / 1000) + 10_000, `SOA serial ${r.serial} is not a recent Unix time`);
    return rrToString({ ...r, serial: 0 });
  }
  return rrToString(r);
}
const canonical = (s: string): string => rrToString(parseRR(s));

interface Case {
  qname: string;
  qtype: number;
  rcode?: number;
  answer?: string[];
  ns?: string[];
  extra?: string[];
}

/** CoreDNS's sortAndCheck: rcode, AA, and each section as a sorted list of zone-file lines. */
function sortAndCheck(m: Message, c: Case): void {
  const what = `${c.qname} ${c.qtype}`;
  assert.equal(m.rcode, c.rcode ?? Rcode.NOERROR, `${what}: rcode`);
  assert.equal(m.aa, true, `${what}: AA`);
  assert.equal(m.questions[0]?.name, c.qname, `${what}: question`);
  const sorted = (rrs: ResourceRecord[]): string[] => rrs.map(text).sort();
  const want = (l: string[] | undefined): string[] => (l ?? []).map(canonical).sort();
  assert.deepEqual(sorted(m.answers), want(c.answer), `${what}: answer`);
  assert.deepEqual(sorted(m.authorities), want(c.ns), `${what}: authority`);
  assert.deepEqual(sorted(m.additionals), want(c.extra), `${what}: additional`);
}

const nx = (qname: string, qtype: number = RRType.A): Case => ({ qname, qtype, rcode: Rcode.NXDOMAIN, ns: [SOA] });
const nodata = (qname: string, qtype: number = RRType.A): Case => ({ qname, qtype, ns: [SOA] });

/** The server's own addresses, which ns.dns.<zone> resolves to (no kube-dns endpoint is ours). */
const ownAddresses = ((): string[] => {
  const out: string[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80')) out.push(a.address);
  }
  return out.length > 0 ? out : ['127.0.0.1'];
})();
const nsGlue = (owner: string): string[] => ownAddresses.map((ip) => `${owner} ${TTL} IN ${ip.includes(':') ? 'AAAA' : 'A'} ${ip}`);

const ptr = (ip: string): string => ipToReverseName(ip)!;

const CASES: Case[] = [
  // -- ClusterIP services: A/AAAA of every family
  { qname: 'web.prod.svc.cluster.local.', qtype: RRType.A, answer: ['web.prod.svc.cluster.local. 5 IN A 10.96.0.10'] },
  nodata('web.prod.svc.cluster.local.', RRType.AAAA),
  { qname: 'api.prod.svc.cluster.local.', qtype: RRType.A, answer: ['api.prod.svc.cluster.local. 5 IN A 10.96.0.11'] },
  { qname: 'dual.prod.svc.cluster.local.', qtype: RRType.A, answer: ['dual.prod.svc.cluster.local. 5 IN A 10.96.0.20'] },
  { qname: 'dual.prod.svc.cluster.local.', qtype: RRType.AAAA, answer: ['dual.prod.svc.cluster.local. 5 IN AAAA fd00::20'] },
  nodata('v6.prod.svc.cluster.local.'),
  { qname: 'v6.prod.svc.cluster.local.', qtype: RRType.AAAA, answer: ['v6.prod.svc.cluster.local. 5 IN AAAA fd00::30'] },
  { qname: 'np.prod.svc.cluster.local.', qtype: RRType.A, answer: ['np.prod.svc.cluster.local. 5 IN A 10.96.0.40'] },
  { qname: 'lb.prod.svc.cluster.local.', qtype: RRType.A, answer: ['lb.prod.svc.cluster.local. 5 IN A 10.96.0.50'] },
  { qname: 'noeps.prod.svc.cluster.local.', qtype: RRType.A, answer: ['noeps.prod.svc.cluster.local. 5 IN A 10.96.0.60'] },
  { qname: 'kubernetes.default.svc.cluster.local.', qtype: RRType.A, answer: ['kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1'] },
  // endpoint names resolve for ClusterIP services too; not-ready and terminating endpoints do not
  { qname: '10-1-0-1.web.prod.svc.cluster.local.', qtype: RRType.A, answer: ['10-1-0-1.web.prod.svc.cluster.local. 5 IN A 10.1.0.1'] },
  { qname: '10-1-0-3.web.prod.svc.cluster.local.', qtype: RRType.A, answer: ['10-1-0-3.web.prod.svc.cluster.local. 5 IN A 10.1.0.3'] },
  nx('10-1-0-2.web.prod.svc.cluster.local.'),
  nx('10-1-0-4.web.prod.svc.cluster.local.'),
  // -- headless: every ready endpoint, by hostname or dashed IP
  {
    qname: 'db.prod.svc.cluster.local.', qtype: RRType.A,
    answer: ['db.prod.svc.cluster.local. 5 IN A 10.1.2.1', 'db.prod.svc.cluster.local. 5 IN A 10.1.2.2', 'db.prod.svc.cluster.local. 5 IN A 10.1.2.3'],
  },
  { qname: 'db.prod.svc.cluster.local.', qtype: RRType.AAAA, answer: ['db.prod.svc.cluster.local. 5 IN AAAA fd00:2::1'] },
  { qname: 'db-0.db.prod.svc.cluster.local.', qtype: RRType.A, answer: ['db-0.db.prod.svc.cluster.local. 5 IN A 10.1.2.1'] },
  { qname: 'db-0.db.prod.svc.cluster.local.', qtype: RRType.AAAA, answer: ['db-0.db.prod.svc.cluster.local. 5 IN AAAA fd00:2::1'] },
  nodata('db-1.db.prod.svc.cluster.local.', RRType.AAAA),
  { qname: '10-1-2-3.db.prod.svc.cluster.local.', qtype: RRType.A, answer: ['10-1-2-3.db.prod.svc.cluster.local. 5 IN A 10.1.2.3'] },
  nx('db-2.db.prod.svc.cluster.local.'),
  nx('db-9.db.prod.svc.cluster.local.'),
  {
    qname: 'plain.prod.svc.cluster.local.', qtype: RRType.A,
    answer: ['plain.prod.svc.cluster.local. 5 IN A 10.1.3.1', 'plain.prod.svc.cluster.local. 5 IN A 10.1.3.2'],
  },
  {
    qname: 'etcd.prod.svc.cluster.local.', qtype: RRType.A,
    answer: ['etcd.prod.svc.cluster.local. 5 IN A 10.1.4.1', 'etcd.prod.svc.cluster.local. 5 IN A 10.1.4.2'],
  },
  { qname: 'etcd-0.etcd.prod.svc.cluster.local.', qtype: RRType.A, answer: ['etcd-0.etcd.prod.svc.cluster.local. 5 IN A 10.1.4.1'] },
  nx('empty.prod.svc.cluster.local.'),
  nx('down.prod.svc.cluster.local.'),
  // -- SRV: ClusterIP targets the service, headless targets each endpoint; weights as CoreDNS
  {
    qname: '_http._tcp.web.prod.svc.cluster.local.', qtype: RRType.SRV,
    answer: ['_http._tcp.web.prod.svc.cluster.local. 5 IN SRV 0 100 80 web.prod.svc.cluster.local.'],
    extra: ['web.prod.svc.cluster.local. 5 IN A 10.96.0.10'],
  },
  {
    qname: 'web.prod.svc.cluster.local.', qtype: RRType.SRV,
    answer: ['web.prod.svc.cluster.local. 5 IN SRV 0 50 80 web.prod.svc.cluster.local.', 'web.prod.svc.cluster.local. 5 IN SRV 0 50 443 web.prod.svc.cluster.local.'],
    extra: ['web.prod.svc.cluster.local. 5 IN A 10.96.0.10'],
  },
  nx('_http._udp.web.prod.svc.cluster.local.', RRType.SRV),
  nx('_gopher._tcp.web.prod.svc.cluster.local.', RRType.SRV),
  {
    qname: 'api.prod.svc.cluster.local.', qtype: RRType.SRV,
    answer: ['api.prod.svc.cluster.local. 5 IN SRV 0 100 8080 api.prod.svc.cluster.local.'],
    extra: ['api.prod.svc.cluster.local. 5 IN A 10.96.0.11'],
  },
  nx('_http._tcp.api.prod.svc.cluster.local.', RRType.SRV),
  {
    qname: '_dns._udp.dual.prod.svc.cluster.local.', qtype: RRType.SRV,
    answer: ['_dns._udp.dual.prod.svc.cluster.local. 5 IN SRV 0 50 53 dual.prod.svc.cluster.local.'],
    extra: ['dual.prod.svc.cluster.local. 5 IN A 10.96.0.20', 'dual.prod.svc.cluster.local. 5 IN AAAA fd00::20'],
  },
  {
    qname: '_dns._udp.kube-dns.kube-system.svc.cluster.local.', qtype: RRType.SRV,
    answer: ['_dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.'],
    extra: ['kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.100'],
  },
  {
    qname: '_mysql._tcp.db.prod.svc.cluster.local.', qtype: RRType.SRV,
    answer: [
      '_mysql._tcp.db.prod.svc.cluster.local. 5 IN SRV 0 25 3306 db-0.db.prod.svc.cluster.local.',
      '_mysql._tcp.db.prod.svc.cluster.local. 5 IN SRV 0 25 3306 db-1.db.prod.svc.cluster.local.',
      '_mysql._tcp.db.prod.svc.cluster.local. 5 IN SRV 0 25 3306 10-1-2-3.db.prod.svc.cluster.local.',
    ],
    extra: [
      'db-0.db.prod.svc.cluster.local. 5 IN A 10.1.2.1', 'db-0.db.prod.svc.cluster.local. 5 IN AAAA fd00:2::1',
      'db-1.db.prod.svc.cluster.local. 5 IN A 10.1.2.2', '10-1-2-3.db.prod.svc.cluster.local. 5 IN A 10.1.2.3',
    ],
  },
  {
    qname: '_peer._tcp.etcd.prod.svc.cluster.local.', qtype: RRType.SRV,
    answer: [
      '_peer._tcp.etcd.prod.svc.cluster.local. 5 IN SRV 0 50 2380 etcd-0.etcd.prod.svc.cluster.local.',
      '_peer._tcp.etcd.prod.svc.cluster.local. 5 IN SRV 0 50 2380 etcd-1.etcd.prod.svc.cluster.local.',
    ],
    extra: ['etcd-0.etcd.prod.svc.cluster.local. 5 IN A 10.1.4.1', 'etcd-1.etcd.prod.svc.cluster.local. 5 IN A 10.1.4.2'],
  },
  nodata('plain.prod.svc.cluster.local.', RRType.SRV),
  nodata('ext.prod.svc.cluster.local.', RRType.SRV),
  // -- PTR: a ClusterIP names its service, an endpoint address its endpoint name
  { qname: ptr('10.96.0.10'), qtype: RRType.PTR, answer: [`${ptr('10.96.0.10')} 5 IN PTR web.prod.svc.cluster.local.`] },
  { qname: ptr('fd00::20'), qtype: RRType.PTR, answer: [`${ptr('fd00::20')} 5 IN PTR dual.prod.svc.cluster.local.`] },
  { qname: ptr('fd00::30'), qtype: RRType.PTR, answer: [`${ptr('fd00::30')} 5 IN PTR v6.prod.svc.cluster.local.`] },
  { qname: ptr('10.1.2.1'), qtype: RRType.PTR, answer: [`${ptr('10.1.2.1')} 5 IN PTR db-0.db.prod.svc.cluster.local.`] },
  { qname: ptr('10.1.2.3'), qtype: RRType.PTR, answer: [`${ptr('10.1.2.3')} 5 IN PTR 10-1-2-3.db.prod.svc.cluster.local.`] },
  { qname: ptr('fd00:2::1'), qtype: RRType.PTR, answer: [`${ptr('fd00:2::1')} 5 IN PTR db-0.db.prod.svc.cluster.local.`] },
  { qname: ptr('10.1.0.1'), qtype: RRType.PTR, answer: [`${ptr('10.1.0.1')} 5 IN PTR 10-1-0-1.web.prod.svc.cluster.local.`] },
  { qname: 'in-addr.arpa.', qtype: RRType.SOA, answer: [soa('in-addr.arpa.')] },
  // -- ExternalName: the CNAME alone, chased in the zone, and NODATA for other types
  { qname: 'ext.prod.svc.cluster.local.', qtype: RRType.CNAME, answer: ['ext.prod.svc.cluster.local. 5 IN CNAME www.example.org.'] },
  {
    qname: 'alias.prod.svc.cluster.local.', qtype: RRType.A,
    answer: ['alias.prod.svc.cluster.local. 5 IN CNAME web.prod.svc.cluster.local.', 'web.prod.svc.cluster.local. 5 IN A 10.96.0.10'],
  },
  nodata('ext.prod.svc.cluster.local.', RRType.TXT),
  nodata('web.prod.svc.cluster.local.', RRType.CNAME),
  nx('x.ext.prod.svc.cluster.local.'),
  // -- pods insecure: the dashed address, in an existing namespace
  { qname: '10-1-0-1.prod.pod.cluster.local.', qtype: RRType.A, answer: ['10-1-0-1.prod.pod.cluster.local. 5 IN A 10.1.0.1'] },
  { qname: 'fd00-1--1.prod.pod.cluster.local.', qtype: RRType.AAAA, answer: ['fd00-1--1.prod.pod.cluster.local. 5 IN AAAA fd00:1::1'] },
  nodata('10-1-0-1.prod.pod.cluster.local.', RRType.AAAA),
  nx('10-1-0-1.nowhere.pod.cluster.local.'),
  nx('not-an-ip.prod.pod.cluster.local.'),
  nodata('prod.pod.cluster.local.'),
  // -- the zone itself: SOA, NS with the server's addresses, dns-version
  { qname: 'cluster.local.', qtype: RRType.SOA, answer: [SOA] },
  { qname: 'cluster.local.', qtype: RRType.NS, answer: ['cluster.local. 5 IN NS ns.dns.cluster.local.'], extra: nsGlue('ns.dns.cluster.local.') },
  { qname: 'ns.dns.cluster.local.', qtype: RRType.A, answer: nsGlue('ns.dns.cluster.local.').filter((r) => / A /.test(r)) },
  { qname: 'dns-version.cluster.local.', qtype: RRType.TXT, answer: ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'] },
  // -- NODATA: names that exist without the asked type (SOA below the apex too)
  nodata('cluster.local.'),
  nodata('svc.cluster.local.'),
  nodata('prod.svc.cluster.local.'),
  nodata('staging.svc.cluster.local.'),
  nodata('web.prod.svc.cluster.local.', RRType.TXT),
  nodata('web.prod.svc.cluster.local.', RRType.MX),
  nodata('web.prod.svc.cluster.local.', RRType.SOA),
  nodata('missing.prod.svc.cluster.local.', RRType.SOA),
  nodata('web.prod.svc.cluster.local.', RRType.CAA),
  // -- NXDOMAIN: missing service, namespace, shapes that are no kubernetes name; TXT's quirk
  nx('missing.prod.svc.cluster.local.'),
  nx('missing.prod.svc.cluster.local.', RRType.AAAA),
  nx('missing.prod.svc.cluster.local.', RRType.MX),
  nx('web.nowhere.svc.cluster.local.'),
  nx('nowhere.svc.cluster.local.'),
  nx('www.cluster.local.'),
  nx('a.b._http._tcp.web.prod.svc.cluster.local.'),
  nx('cluster.local.', RRType.TXT),
  nx('missing.prod.svc.cluster.local.', RRType.TXT),
];

// ---- the shared servers ------------------------------------------------------------------------

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('kubernetes plugin on a live watch', () => {
  let api: FakeKubeApi;
  let upstream: UpstreamServer;
  let srv: ServerProcess;
  let port: number;
  let readyPort: number;
  let metricsPort: number;
  let dir: string;
  let hangLifted = false;
  let startedAfter = 0;
  const figures: string[] = [];

  const a = async (name: string, type: number = RRType.A): Promise<string[]> => {
    const m = await query(port, name, type);
    return m.answers.map(text);
  };
  const rcodeOf = async (name: string, type: number = RRType.A): Promise<number> => (await query(port, name, type)).rcode;
  const readyStatus = async (): Promise<number> => (await fetch(`http://127.0.0.1:${readyPort}/ready`)).status;
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

  /** A hung API server that comes back: new requests are answered, held connections reset. */
  const liftHang = async (): Promise<void> => {
    if (hangLifted) return;
    hangLifted = true;
    api.hang(false);
    await api.setOutage(20);
  };
  const synced = async (): Promise<void> => {
    await liftHang();
    await until('first sync', async () => (await readyStatus()) === 200, 5000);
  };

  before(async () => {
    api = await startFakeKubeApi({ objects: cluster(), bookmarkMs: 200 });
    api.hang(true);
    upstream = await UpstreamServer.start({
      records: [
        rr.a('www.external.test.', '198.51.100.7'),
        { name: ptr('198.51.100.7'), class: 1, ttl: 300, type: RRType.PTR, target: 'www.external.test.' },
      ],
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-e2e-'));
    const kubeconfig = writeKubeconfig(dir, api.url);
    [port, readyPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const t0 = Date.now();
    srv = await startServer(`.:${port} {
    errors
    ready 127.0.0.1:${readyPort}
    prometheus 127.0.0.1:${metricsPort}
    hosts extra.hosts {
        fallthrough
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl ${TTL}
        startup_timeout 2s
    }
    file example.org.db example.org
    forward . 127.0.0.1:${upstream.port}
}
`, {
      files: {
        'extra.hosts': '192.0.2.99 search.example.net\n',
        'example.org.db': fs.readFileSync(new URL('../zones/example.org.db', import.meta.url), 'utf8'),
      },
    });
    startedAfter = Date.now() - t0;
  });

  after(async () => {
    await srv?.stop();
    await api?.close();
    await upstream?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (figures.length > 0) console.log(`# ${figures.join('; ')}`);
  });

  it('is not ready and answers SERVFAIL until the first list completes, then serves', async () => {
    assert.equal(hangLifted, false, 'runs first');
    await srv.waitFor(/starting server with unsynced Kubernetes API/, 2000);
    assert.ok(startedAfter >= 2000, `listening after ${startedAfter} ms: start waited startup_timeout (2s) for the first list`);
    const res = await fetch(`http://127.0.0.1:${readyPort}/ready`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /kubernetes/);
    for (const [name, type] of [['web.prod.svc.cluster.local.', RRType.A], ['missing.prod.svc.cluster.local.', RRType.A], [ptr('10.96.0.10'), RRType.PTR]] as const) {
      const m = await query(port, name, type);
      assert.equal(m.rcode, Rcode.SERVFAIL, `${name} before the first list`);
      assert.deepEqual(m.answers, []);
    }
    // Names outside the plugin's zones are served meanwhile.
    assert.deepEqual(await a('www.example.org.'), [canonical('www.example.org. 300 IN A 192.0.2.10')]);
    const t = Date.now();
    await synced();
    figures.push(`ready ${Date.now() - t} ms after the API server came back`);
    assert.deepEqual(await a('web.prod.svc.cluster.local.'), [canonical('web.prod.svc.cluster.local. 5 IN A 10.96.0.10')]);
    assert.equal(await rcodeOf('missing.prod.svc.cluster.local.'), Rcode.NXDOMAIN);
  });

  it('answers a table of CoreDNS cases (UDP, and TCP for every other case)', async () => {
    await synced();
    for (const [i, c] of CASES.entries()) {
      sortAndCheck(await query(port, c.qname, c.qtype, { tcp: i % 2 === 1 }), c);
    }
  });

  it('keeps the question as asked and answers with EDNS when asked with EDNS', async () => {
    await synced();
    const m = await query(port, 'WEB.Prod.SVC.cluster.LOCAL.', RRType.A, { udpSize: 1232 });
    assert.equal(m.questions[0]!.name, 'WEB.Prod.SVC.cluster.LOCAL.');
    // The owner is the name as asked (CoreDNS answers with state.QName()).
    assert.deepEqual(m.answers.map(text), [canonical('WEB.Prod.SVC.cluster.LOCAL. 5 IN A 10.96.0.10')]);
    assert.equal(m.edns?.udpSize, 1232);
    const chased = await query(port, 'Ext.Prod.svc.cluster.local.', RRType.A);
    assert.equal(chased.questions[0]!.name, 'Ext.Prod.svc.cluster.local.');
    assert.deepEqual(chased.answers.map(text), ['Ext.Prod.svc.cluster.local. 5 IN CNAME www.example.org.', 'www.example.org. 300 IN A 192.0.2.10'].map(canonical));
    const plain = await query(port, 'web.prod.svc.cluster.local.', RRType.A);
    assert.equal(plain.edns, undefined);
  });

  it('refuses zone transfers', async () => {
    await synced();
    const m = await query(port, 'cluster.local.', RRType.AXFR, { tcp: true });
    assert.equal(m.rcode, Rcode.REFUSED);
  });

  it('chases an ExternalName target through the other plugins of the server (file, hosts, forward)', async () => {
    await synced();
    const cases: Array<[string, number, string[]]> = [
      ['ext.prod.svc.cluster.local.', RRType.A, ['ext.prod.svc.cluster.local. 5 IN CNAME www.example.org.', 'www.example.org. 300 IN A 192.0.2.10']],
      ['ext.prod.svc.cluster.local.', RRType.AAAA, ['ext.prod.svc.cluster.local. 5 IN CNAME www.example.org.', 'www.example.org. 3600 IN AAAA 2001:db8::10']],
      ['search.prod.svc.cluster.local.', RRType.A, ['search.prod.svc.cluster.local. 5 IN CNAME search.example.net.', 'search.example.net. 3600 IN A 192.0.2.99']],
      ['outside.prod.svc.cluster.local.', RRType.A, ['outside.prod.svc.cluster.local. 5 IN CNAME www.external.test.', 'www.external.test. 300 IN A 198.51.100.7']],
      // CoreDNS keeps the CNAME whatever the target's lookup answered: the client may follow it itself.
      ['dangling.prod.svc.cluster.local.', RRType.A, ['dangling.prod.svc.cluster.local. 5 IN CNAME gone.external.test.']],
    ];
    for (const [qname, qtype, answer] of cases) {
      for (const tcp of [false, true]) {
        const m = await query(port, qname, qtype, { tcp, udpSize: 1232 });
        assert.equal(m.rcode, Rcode.NOERROR, qname);
        assert.equal(m.aa, true, qname);
        assert.equal(m.questions[0]!.name, qname);
        assert.deepEqual(m.answers.map(text), answer.map(canonical), `${qname} ${qtype}`);
        assert.deepEqual(m.authorities, [], `${qname}: no authority`);
        assert.ok(m.edns, 'OPT kept on a chased answer');
      }
    }
    assert.ok(upstream.queries.some((q) => q.name === 'gone.external.test.'), 'the dangling target was asked upstream');
    // Also when the target's lookup fails (SERVFAIL upstream): CoreDNS's upstream lookup still has a
    // reply, so the CNAME stays and the answer is NOERROR, not NODATA.
    upstream.fault = { rcode: Rcode.SERVFAIL };
    try {
      const m = await query(port, 'outside.prod.svc.cluster.local.', RRType.A);
      assert.equal(m.rcode, Rcode.NOERROR);
      assert.deepEqual(m.answers.map(text), [canonical('outside.prod.svc.cluster.local. 5 IN CNAME www.external.test.')]);
      assert.deepEqual(m.authorities, []);
    } finally {
      upstream.fault = {};
    }
  });

  it('falls through reverse names it has no PTR for, and only those', async () => {
    await synced();
    const seen = (name: string): boolean => upstream.queries.some((q) => q.name.toLowerCase() === name);
    const known = await query(port, ptr('198.51.100.7'), RRType.PTR);
    assert.equal(known.rcode, Rcode.NOERROR);
    assert.deepEqual(known.answers.map(text), [canonical(`${ptr('198.51.100.7')} 300 IN PTR www.external.test.`)]);
    // Not ready: no PTR here; the upstream's NXDOMAIN (no kubernetes SOA) comes back.
    const notReady = await query(port, ptr('10.1.0.2'), RRType.PTR);
    assert.equal(notReady.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(notReady.authorities, []);
    assert.ok(seen(ptr('10.1.0.2')));
    // A service's PTR is answered here, never asked upstream.
    await query(port, ptr('10.96.0.11'), RRType.PTR);
    assert.equal(seen(ptr('10.96.0.11')), false);
    // cluster.local has no fallthrough: its NXDOMAIN is ours, with the SOA.
    const n = upstream.queries.length;
    sortAndCheck(await query(port, 'missing.prod.svc.cluster.local.', RRType.A), nx('missing.prod.svc.cluster.local.'));
    assert.equal(upstream.queries.length, n);
  });

  it('is understood by c-ares (Node dns.Resolver)', async () => {
    await synced();
    const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await r.resolve4('web.prod.svc.cluster.local'), ['10.96.0.10']);
    assert.deepEqual(await r.resolve6('dual.prod.svc.cluster.local'), ['fd00::20']);
    assert.deepEqual((await r.resolve4('db.prod.svc.cluster.local')).sort(), ['10.1.2.1', '10.1.2.2', '10.1.2.3']);
    assert.deepEqual(await r.resolveSrv('_http._tcp.web.prod.svc.cluster.local'), [{ name: 'web.prod.svc.cluster.local', port: 80, priority: 0, weight: 100 }]);
    assert.deepEqual(await r.reverse('10.96.0.10'), ['web.prod.svc.cluster.local']);
    assert.deepEqual(await r.resolveCname('ext.prod.svc.cluster.local'), ['www.example.org']);
    assert.deepEqual(await r.resolve4('ext.prod.svc.cluster.local'), ['192.0.2.10']);
    assert.deepEqual(await r.resolveTxt('dns-version.cluster.local'), [['1.1.0']]);
    await assert.rejects(r.resolve4('missing.prod.svc.cluster.local'), { code: 'ENOTFOUND' });
    await assert.rejects(r.resolve4('v6.prod.svc.cluster.local'), { code: 'ENODATA' });
  });

  it('is understood by dig', { skip: !hasDig && 'dig not installed' }, async () => {
    await synced();
    const out = await dig(port, ['web.prod.svc.cluster.local', 'A', '+noall', '+answer']);
    assert.match(out, /^web\.prod\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.96\.0\.10$/m);
    const srvOut = await dig(port, ['_mysql._tcp.db.prod.svc.cluster.local', 'SRV', '+noall', '+answer', '+additional']);
    assert.match(srvOut, /SRV\s+0 25 3306 db-0\.db\.prod\.svc\.cluster\.local\./);
    assert.match(srvOut, /^db-0\.db\.prod\.svc\.cluster\.local\.\s+5\s+IN\s+AAAA\s+fd00:2::1$/m);
    const rev = await dig(port, ['-x', 'fd00::30', '+short']);
    assert.equal(rev.trim(), 'v6.prod.svc.cluster.local.');
    const neg = await dig(port, ['missing.prod.svc.cluster.local', 'A']);
    assert.match(neg, /status: NXDOMAIN/);
    assert.match(neg, /flags: qr aa/);
    assert.match(neg, /^cluster\.local\.\s+5\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 5$/m);
  });

  it('shows adds, updates and deletes within 1 s', async () => {
    await synced();
    await api.waitForWatches(3);
    const times: Record<string, number> = {};
    // Asked (twice: an answer is memoized on its second miss) before each change, so an answer
    // memoized from the old state is what would be wrong.
    for (let i = 0; i < 2; i++) {
      assert.equal(await rcodeOf('new.prod.svc.cluster.local.'), Rcode.NXDOMAIN);
      // An ExternalName to a service that does not exist yet: NODATA until it does.
      sortAndCheck(await query(port, 'to-new.prod.svc.cluster.local.', RRType.A), nodata('to-new.prod.svc.cluster.local.'));
    }
    api.apply([
      svc('prod', 'new', { clusterIP: '10.96.0.70', selector: { app: 'new' }, ports: [{ name: 'http', port: 80 }] }),
      slice('prod', 'new', 'new-a', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.1.6.1' }]),
    ]);
    times.add = await until('added service', async () => (await a('new.prod.svc.cluster.local.')).length === 1, 1000);
    assert.deepEqual(await a('new.prod.svc.cluster.local.'), [canonical('new.prod.svc.cluster.local. 5 IN A 10.96.0.70')]);
    assert.deepEqual(await a(ptr('10.96.0.70'), RRType.PTR), [canonical(`${ptr('10.96.0.70')} 5 IN PTR new.prod.svc.cluster.local.`)]);
    sortAndCheck(await query(port, 'to-new.prod.svc.cluster.local.', RRType.A), {
      qname: 'to-new.prod.svc.cluster.local.', qtype: RRType.A,
      answer: ['to-new.prod.svc.cluster.local. 5 IN CNAME new.prod.svc.cluster.local.', 'new.prod.svc.cluster.local. 5 IN A 10.96.0.70'],
    });

    // An endpoint becomes ready, another joins the headless service.
    for (let i = 0; i < 2; i++) {
      assert.equal(await rcodeOf('10-1-0-2.web.prod.svc.cluster.local.'), Rcode.NXDOMAIN);
      assert.equal((await a('db.prod.svc.cluster.local.')).length, 3);
    }
    api.apply([
      slice('prod', 'web', 'web-a', 'IPv4', HTTP_TARGET, [{ ip: '10.1.0.1' }, { ip: '10.1.0.2' }]),
      slice('prod', 'db', 'db-a', 'IPv4', [{ name: 'mysql', port: 3306 }], [
        { ip: '10.1.2.1', hostname: 'db-0' }, { ip: '10.1.2.2', hostname: 'db-1' }, { ip: '10.1.2.3' },
        { ip: '10.1.2.4', hostname: 'db-2' },
      ]),
    ]);
    times.update = await until('updated slices', async () => (await a('db.prod.svc.cluster.local.')).length === 4
      && (await rcodeOf('10-1-0-2.web.prod.svc.cluster.local.')) === Rcode.NOERROR, 1000);
    assert.deepEqual(await a('db-2.db.prod.svc.cluster.local.'), [canonical('db-2.db.prod.svc.cluster.local. 5 IN A 10.1.2.4')]);
    assert.deepEqual(await a(ptr('10.1.0.2'), RRType.PTR), [canonical(`${ptr('10.1.0.2')} 5 IN PTR 10-1-0-2.web.prod.svc.cluster.local.`)]);
    // An ExternalName retargeted.
    assert.deepEqual(await a('outside.prod.svc.cluster.local.', RRType.CNAME), [canonical('outside.prod.svc.cluster.local. 5 IN CNAME www.external.test.')]);
    api.apply(svc('prod', 'outside', { type: 'ExternalName', externalName: 'elsewhere.external.test' }));
    times.retarget = await until('retargeted ExternalName', async () =>
      (await a('outside.prod.svc.cluster.local.', RRType.CNAME))[0] === canonical('outside.prod.svc.cluster.local. 5 IN CNAME elsewhere.external.test.'), 1000);

    const serialBefore = (await query(port, 'cluster.local.', RRType.SOA)).answers[0] as ResourceRecord & { serial: number };
    api.remove('Service', 'prod', 'new');
    api.remove('EndpointSlice', 'prod', 'new-a');
    times.delete = await until('deleted service', async () => (await rcodeOf('new.prod.svc.cluster.local.')) === Rcode.NXDOMAIN, 1000);
    sortAndCheck(await query(port, 'new.prod.svc.cluster.local.', RRType.A), nx('new.prod.svc.cluster.local.'));
    await until('PTR gone', async () => (await a(ptr('10.96.0.70'), RRType.PTR)).length === 0, 1000);
    sortAndCheck(await query(port, 'to-new.prod.svc.cluster.local.', RRType.A), nodata('to-new.prod.svc.cluster.local.'));
    const serialAfter = (await query(port, 'cluster.local.', RRType.SOA)).answers[0] as ResourceRecord & { serial: number };
    assert.ok(serialAfter.serial > serialBefore.serial, 'the SOA serial moves with a change');
    for (const [what, ms] of Object.entries(times)) assert.ok(ms < 1000, `${what} visible after ${ms} ms`);
    figures.push(`visible after: ${Object.entries(times).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
  });

  it('resumes a dropped watch from where it was, without a relist', async () => {
    await synced();
    await api.waitForWatches(3);
    await sleep(450); // bookmarks: every watch has seen the current resourceVersion
    const listsBefore = api.stats().lists;
    const rv = String(api.resourceVersion());
    const t = Date.now();
    api.dropWatches();
    api.apply(svc('prod', 'while-dropped', { clusterIP: '10.96.0.71', ports: [{ name: 'http', port: 80 }] }));
    const ms = await until('change made while the watch was down', async () =>
      (await a('while-dropped.prod.svc.cluster.local.')).length === 1, 3000);
    figures.push(`after a dropped watch: ${ms} ms`);
    await api.waitForWatches(3);
    const after = api.stats().requests.filter((r) => r.at >= t);
    assert.deepEqual(api.stats().lists, listsBefore, 'no relist');
    assert.deepEqual(after.filter((r) => r.verb === 'list'), []);
    const watches = after.filter((r) => r.verb === 'watch');
    assert.deepEqual([...new Set(watches.map((r) => r.resource))].sort(), ['endpointslices', 'namespaces', 'services']);
    for (const w of watches) assert.equal(w.resourceVersion, rv, `${w.resource} resumed from ${w.resourceVersion}`);
    assert.deepEqual(await a('web.prod.svc.cluster.local.'), [canonical('web.prod.svc.cluster.local. 5 IN A 10.96.0.10')]);
  });

  it('relists after the history it would resume from was compacted (410)', async () => {
    await synced();
    await api.waitForWatches(3);
    api.apply([
      svc('prod', 'doomed', { clusterIP: '10.96.0.75', ports: [{ name: 'http', port: 80 }] }),
      slice('prod', 'doomed', 'doomed-a', 'IPv4', [{ name: 'http', port: 80 }], [{ ip: '10.1.7.9' }]),
    ]);
    await until('doomed service visible', async () => (await a(ptr('10.1.7.9'), RRType.PTR)).length === 1, 1000);
    const listsBefore = api.stats().lists;
    const t = Date.now();
    // The watch is cut off while a service goes away and another arrives, then the history is compacted.
    const outage = api.setOutage(300);
    api.remove('Service', 'prod', 'doomed');
    api.remove('EndpointSlice', 'prod', 'doomed-a');
    api.apply([
      svc('prod', 'after-compact', { clusterIP: '10.96.0.72', ports: [{ name: 'http', port: 80 }] }),
      slice('prod', 'after-compact', 'after-compact-a', 'IPv4', [{ name: 'http', port: 80 }], [{ ip: '10.1.7.1', hostname: 'first' }]),
      ns('fresh'),
      svc('fresh', 'svc', { clusterIP: '10.96.0.73', ports: [{ name: 'http', port: 80 }] }),
    ]);
    api.compact();
    await outage;
    const ms = await until('relist converged', async () =>
      (await rcodeOf('doomed.prod.svc.cluster.local.')) === Rcode.NXDOMAIN
      && (await a(ptr('10.1.7.9'), RRType.PTR)).length === 0
      && (await a('first.after-compact.prod.svc.cluster.local.')).length === 1
      && (await a('svc.fresh.svc.cluster.local.')).length === 1, 5000);
    figures.push(`relist after 410: ${ms} ms after the API came back`);
    await api.waitForWatches(3);
    const stats = api.stats();
    for (const k of ['namespaces', 'services', 'endpointslices'] as const) assert.equal(stats.lists[k], listsBefore[k] + 1, `${k} relisted once`);
    const after = stats.requests.filter((r) => r.at >= t);
    assert.ok(after.some((r) => r.verb === 'watch' && r.resourceVersion !== undefined && Number(r.resourceVersion) < stats.oldestResumableResourceVersion),
      'a watch asked for a compacted resourceVersion first');
    sortAndCheck(await query(port, 'doomed.prod.svc.cluster.local.', RRType.A), nx('doomed.prod.svc.cluster.local.'));
    assert.deepEqual(await a(ptr('10.96.0.75'), RRType.PTR), [], 'the PTR of its ClusterIP went with it');
    // The rest is untouched.
    sortAndCheck(await query(port, 'web.prod.svc.cluster.local.', RRType.A), CASES[0]!);
    assert.deepEqual(await a('db-0.db.prod.svc.cluster.local.'), [canonical('db-0.db.prod.svc.cluster.local. 5 IN A 10.1.2.1')]);
  });

  it('keeps answering from the last state through a 5 s API outage and converges after it', async () => {
    await synced();
    await api.waitForWatches(3);
    const outage = api.setOutage(5000);
    await sleep(200);
    // A change of every kind while the API server is unreachable.
    api.apply([
      svc('prod', 'during-outage', { clusterIP: '10.96.0.74', ports: [{ name: 'http', port: 80 }] }),
      slice('prod', 'np', 'np-a', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.1.0.40' }]),
      ns('late'),
    ]);
    api.remove('Service', 'prod', 'api');
    for (let i = 0; i < 4; i++) {
      await sleep(1000);
      sortAndCheck(await query(port, 'web.prod.svc.cluster.local.', RRType.A), CASES[0]!);
      assert.deepEqual(await a('api.prod.svc.cluster.local.'), [canonical('api.prod.svc.cluster.local. 5 IN A 10.96.0.11')], 'the last state is served');
      assert.equal(await rcodeOf('during-outage.prod.svc.cluster.local.'), Rcode.NXDOMAIN);
      assert.equal(await rcodeOf('10-1-0-40.np.prod.svc.cluster.local.'), Rcode.NXDOMAIN);
      assert.equal(await rcodeOf('late.svc.cluster.local.'), Rcode.NXDOMAIN);
      assert.equal(await readyStatus(), 200, 'still ready: the data is there');
    }
    await outage;
    // Each kind's watch comes back on its own backoff schedule (0.5 s doubling, jittered).
    const ms = await until('convergence after the outage', async () =>
      (await a('during-outage.prod.svc.cluster.local.')).length === 1 && (await rcodeOf('api.prod.svc.cluster.local.')) === Rcode.NXDOMAIN
      && (await a('10-1-0-40.np.prod.svc.cluster.local.')).length === 1 && (await rcodeOf('late.svc.cluster.local.')) === Rcode.NOERROR, 12_000);
    figures.push(`converged ${ms} ms after a 5 s outage`);
    await api.waitForWatches(3, { timeoutMs: 2000 });
    assert.match(await metrics(), /^clusterdns_kubernetes_watch_failures_total\{kind="Service"\} [1-9]/m);
  });

  it('measures the DNS programming latency of a live EndpointSlice change', async () => {
    await synced();
    await api.waitForWatches(3);
    const count = (text: string, kind: string): number =>
      Number(new RegExp(`^coredns_kubernetes_dns_programming_duration_seconds_count\\{service_kind="${kind}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const before = await metrics();
    const trigger = new Date(Date.now() - 1500);
    api.apply([
      slice('prod', 'lb', 'lb-a', 'IPv4', [{ name: 'https', port: 8443 }], [{ ip: '10.1.0.50' }, { ip: '10.1.0.51' }], trigger),
      slice('prod', 'plain', 'plain-a', 'IPv4', [], [{ ip: '10.1.3.1' }, { ip: '10.1.3.2' }, { ip: '10.1.3.3' }], trigger),
    ]);
    await until('plain has three endpoints', async () => (await a('plain.prod.svc.cluster.local.')).length === 3, 1000);
    const text = await metrics();
    assert.equal(count(text, 'cluster_ip'), count(before, 'cluster_ip') + 1);
    assert.equal(count(text, 'headless_with_selector'), count(before, 'headless_with_selector') + 1);
    // 1.5 s old: in the 2.048 s bucket, not in the 1.024 s one.
    assert.match(text, /^coredns_kubernetes_dns_programming_duration_seconds_bucket\{le="1\.024",service_kind="cluster_ip"\} 0$/m);
    assert.match(text, /^coredns_kubernetes_dns_programming_duration_seconds_bucket\{le="2\.048",service_kind="cluster_ip"\} 1$/m);
    assert.match(text, /^clusterdns_kubernetes_watch_events_total\{kind="EndpointSlice",op="update"\} [1-9]/m);
    // A slice of a service we do not know is not measured (CoreDNS needs the service for its kind).
    api.apply(slice('prod', 'unknown', 'unknown-a', 'IPv4', [], [{ ip: '10.1.9.1' }], new Date()));
    await until('the orphan slice is indexed', async () => (await a(ptr('10.1.9.1'), RRType.PTR)).length === 1, 1000);
    const last = await metrics();
    for (const kind of ['cluster_ip', 'headless_with_selector', 'headless_without_selector']) assert.equal(count(last, kind), count(text, kind), kind);
  });
});

// ---- snapshot mode -----------------------------------------------------------------------------

describe('kubernetes plugin on a snapshot file', () => {
  it('serves the file, follows a rewrite within 2 s, and keeps the last good state on a broken one', async () => {
    const port = await freePort();
    const list = (ip: string, extra: KubeObject[] = []): string => JSON.stringify({
      apiVersion: 'v1', kind: 'List',
      items: [ns('demo'), svc('demo', 'web', { clusterIP: ip, ports: [{ name: 'http', port: 80 }] }), ...extra],
    }, null, 2);
    const srv = await startServer(`cluster.local:${port} {
    kubernetes {
        snapshot cluster.json
    }
}
`, { files: { 'cluster.json': list('10.96.5.1') } });
    try {
      const file = path.join(srv.dir, 'cluster.json');
      const get = async (name: string): Promise<Message> => query(port, name, RRType.A);
      sortAndCheck(await get('web.demo.svc.cluster.local.'), { qname: 'web.demo.svc.cluster.local.', qtype: RRType.A, answer: ['web.demo.svc.cluster.local. 5 IN A 10.96.5.1'] });
      // A rewrite (atomic rename, as a ConfigMap volume does it).
      fs.writeFileSync(`${file}.tmp`, list('10.96.5.2', [svc('demo', 'api', { clusterIP: '10.96.5.3', ports: [{ name: 'http', port: 80 }] })]));
      fs.renameSync(`${file}.tmp`, file);
      const ms = await until('rewrite picked up', async () =>
        (await get('web.demo.svc.cluster.local.')).answers.map(text)[0] === canonical('web.demo.svc.cluster.local. 5 IN A 10.96.5.2'), 2500);
      assert.deepEqual((await get('api.demo.svc.cluster.local.')).answers.map(text), [canonical('api.demo.svc.cluster.local. 5 IN A 10.96.5.3')]);
      // A broken rewrite: logged, the last good state keeps serving.
      fs.writeFileSync(file, '{"apiVersion": "v1", "kind": "List", "items": [ {"kind": ');
      await srv.waitFor(/plugin\/kubernetes: .*snapshot: .*; keeping the last good state/, 3000);
      assert.deepEqual((await get('web.demo.svc.cluster.local.')).answers.map(text), [canonical('web.demo.svc.cluster.local. 5 IN A 10.96.5.2')]);
      assert.deepEqual((await get('api.demo.svc.cluster.local.')).answers.map(text), [canonical('api.demo.svc.cluster.local. 5 IN A 10.96.5.3')]);
      // Fixed again: followed again, and a removed service is gone.
      fs.writeFileSync(file, list('10.96.5.4'));
      await until('fixed file picked up', async () => (await get('api.demo.svc.cluster.local.')).rcode === Rcode.NXDOMAIN, 2500);
      assert.deepEqual((await get('web.demo.svc.cluster.local.')).answers.map(text), [canonical('web.demo.svc.cluster.local. 5 IN A 10.96.5.4')]);
      assert.ok(ms < 2500);
    } finally {
      await srv.stop();
    }
  });
});

// ---- Corefile errors ---------------------------------------------------------------------------

describe('kubernetes Corefile errors', () => {
  const cases: Array<{ name: string; block: string; expect: RegExp }> = [
    { name: 'unknown property', block: 'kubernetes cluster.local {\n        endpoint http://127.0.0.1:1\n        podz insecure\n    }', expect: /Corefile:4 - plugin\/kubernetes: unknown property 'podz'/ },
    { name: 'ttl out of range', block: 'kubernetes cluster.local {\n        ttl 3601\n    }', expect: /Corefile:3 - plugin\/kubernetes: 'ttl': 3601 is out of range: expected 0 to 3600/ },
    { name: 'ttl not a number', block: 'kubernetes cluster.local {\n        ttl 5s\n    }', expect: /Corefile:3 - plugin\/kubernetes: 'ttl': invalid integer '5s'/ },
    { name: 'bad pods mode', block: 'kubernetes cluster.local {\n        pods maybe\n    }', expect: /Corefile:3 - plugin\/kubernetes: wrong value for pods: maybe/ },
    { name: 'multicluster', block: 'kubernetes cluster.local {\n        multicluster clusterset.local\n    }', expect: /Corefile:3 - plugin\/kubernetes: multicluster is not supported/ },
    { name: 'unreadable kubeconfig', block: 'kubernetes cluster.local {\n        kubeconfig /nonexistent/kubeconfig\n    }', expect: /plugin\/kubernetes: cannot read kubeconfig \/nonexistent\/kubeconfig: ENOENT/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const srv = await startServer(`.:${await freePort()} {\n    ${c.block}\n}\n`, { noWait: true });
      assert.equal(await srv.exited, 1, srv.stderr());
      assert.match(srv.stderr(), c.expect);
      assert.doesNotMatch(srv.stdout(), /clusterdns-\d/, 'nothing started');
    });
  }
});
