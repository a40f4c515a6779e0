/**
 * Table tests for lookup(), in the style of CoreDNS's test.Case: qname/qtype → rcode, answer,
 * authority (ns) and additional (extra) as zone-file text. The first tables are CoreDNS's own
 * plugin/kubernetes handler tests over the same fixture (handler_test.go, kubernetes_apex_test.go,
 * handler_pod_*_test.go, handler_ignore_emptyservice_test.go, reverse_test.go); the rest cover
 * the remaining record families and every NXDOMAIN/NODATA decision.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RRType, Rcode, stringToType } from '../dns/constants.js';
import { lookup, soaRecord, type ExplainReason, type KubeAnswer, type LookupOptions } from './lookup.js';
import { RecordStore, SERIAL_DEP, type RecordStoreOptions } from './record-store.js';
import {
  checkRecords,
  clusterIpService,
  endpoint,
  externalService,
  headlessService,
  norm,
  port,
  rrText,
  slice,
} from './testing.js';

const ZONE = 'cluster.local.';
const NOW = 1_700_000_000_000;

interface Case {
  qname: string;
  qtype: string;
  rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  answer?: string[];
  /** Authority; "SOA" stands for the zone's SOA with the store's current serial. */
  ns?: string[];
  extra?: string[];
  reason?: ExplainReason;
  /** Zone the query is routed to (default cluster.local.). */
  zone?: string;
  chase?: { name: string; qtype: number };
}

function soaText(zone: string, store: RecordStore, ttl = 5): string {
  return rrText(soaRecord(zone, store.serial, ttl));
}

function run(store: RecordStore, opts: LookupOptions, cases: Case[]): void {
  for (const tc of cases) {
    const zone = tc.zone ?? ZONE;
    const qtype = stringToType(tc.qtype);
    assert.ok(qtype !== undefined, tc.qtype);
    const what = `${tc.qname} ${tc.qtype}`;
    const a = lookup(store, opts, tc.qname, qtype, zone);
    const soa = soaText(zone, store, opts.ttl ?? 5);
    const expand = (list: string[] | undefined): string[] => (list ?? []).map((s) => (s === 'SOA' ? soa : s));
    assert.equal(a.rcode, Rcode[tc.rcode], `${what}: rcode (reason ${a.reason})`);
    checkRecords(a.answers, expand(tc.answer), `${what}: answer`);
    checkRecords(a.additionals, expand(tc.extra), `${what}: extra`);
    const ns = a.authority === 'soa' ? [soa] : [];
    assert.deepEqual(ns, expand(tc.ns).map(norm), `${what}: ns`);
    if (tc.reason) assert.equal(a.reason, tc.reason, `${what}: reason`);
    assert.deepEqual(a.chase, tc.chase, `${what}: chase`);
    for (const rr of [...a.answers, ...a.additionals]) assert.equal(rr.name, rr.name.toLowerCase(), `${what}: canonical owner`);
  }
}

/** The fixture of CoreDNS's handler_test.go (APIConnServeTest), plus a few services of ours. */
function coreDnsFixture(opts: RecordStoreOptions = {}): RecordStore {
  const s = new RecordStore({ now: () => NOW, ...opts });
  for (const ns of ['testns', 'kube-system', 'unexposedns', 'podns', 'svcns']) s.upsertNamespace({ name: ns });
  s.upsertService(clusterIpService('kube-system', 'kubedns', ['10.0.0.10'], [port('dns', 53, 'UDP')]));
  s.upsertService(clusterIpService('testns', 'svc1', ['10.0.0.1']));
  s.upsertService(clusterIpService('testns', 'svcempty', ['10.0.0.1']));
  s.upsertService(clusterIpService('testns', 'svc6', ['1234:abcd::1']));
  s.upsertService(headlessService('testns', 'hdls1'));
  s.upsertService(externalService('testns', 'external', 'ext.interwebs.test.'));
  s.upsertService(externalService('testns', 'external-to-service', 'svc1.testns.svc.cluster.local.'));
  s.upsertService(headlessService('testns', 'hdlsprtls'));
  s.upsertService(clusterIpService('unexposedns', 'svc1', ['10.0.0.2']));
  s.upsertService(clusterIpService('testns', 'svc-dual-stack', ['10.0.0.3', '10::3']));
  s.upsertEndpointSlice(slice('kube-system', 'kubedns-1', 'kubedns', [endpoint('172.0.0.100')], [port('dns', 53, 'UDP')]));
  s.upsertEndpointSlice(slice('testns', 'svc1-slice1', 'svc1', [endpoint('172.0.0.1', { hostname: 'ep1a' })], [port('http', 80)]));
  s.upsertEndpointSlice(slice('testns', 'svcempty-slice1', 'svcempty', [], [port('http', 80)]));
  s.upsertEndpointSlice(slice('testns', 'hdls1-v4', 'hdls1', [
    endpoint('172.0.0.2'), endpoint('172.0.0.3'),
    endpoint('172.0.0.4', { hostname: 'dup-name' }), endpoint('172.0.0.5', { hostname: 'dup-name' }),
  ], [port('http', 80)]));
  s.upsertEndpointSlice(slice('testns', 'hdls1-v6', 'hdls1', [endpoint('5678:abcd::1'), endpoint('5678:abcd::2')], [port('http', 80)], 'IPv6'));
  s.upsertEndpointSlice(slice('testns', 'hdlsprtls-slice1', 'hdlsprtls', [endpoint('172.0.0.20')]));
  return s;
}

const SOA = ['SOA'];

describe('CoreDNS handler_test.go cases (namespaces testns)', () => {
  const store = coreDnsFixture({ namespaces: ['testns'] });
  const opts: LookupOptions = { primaryZone: ZONE };
  test('common and non-multicluster cases', () => {
    run(store, opts, [
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['svc1.testns.svc.cluster.local.	5	IN	A	10.0.0.1'], reason: 'answer' },
      { qname: 'svcempty.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1'] },
      {
        qname: 'svc1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['svc1.testns.svc.cluster.local.	5	IN	SRV	0 100 80 svc1.testns.svc.cluster.local.'],
        extra: ['svc1.testns.svc.cluster.local.  5       IN      A       10.0.0.1'],
      },
      {
        qname: 'svc6.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['svc6.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc6.testns.svc.cluster.local.'],
        extra: ['svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1'],
      },
      {
        qname: '_http._tcp.svc1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local.'],
        extra: ['svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1'],
      },
      {
        qname: '_http._tcp.svcempty.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['_http._tcp.svcempty.testns.svc.cluster.local. 5 IN SRV 0 100 80 svcempty.testns.svc.cluster.local.'],
        extra: ['svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1'],
      },
      {
        qname: 'hdls1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR',
        answer: [
          'hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2', 'hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3',
          'hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4', 'hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5',
        ],
      },
      { qname: 'hdlsprtls.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20'] },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-missing' },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-missing' },
      { qname: 'svc0.svc-nons.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-filtered' },
      { qname: 'dns-version.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', answer: ['dns-version.cluster.local 28800 IN TXT "1.1.0"'.replace('local ', 'local. ')] },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'svc0.svc-nons.svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'bogusendpoint.hdls1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-missing' },
      { qname: 'bogusendpoint.svc0.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-missing' },
      { qname: 'svc6.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1'] },
      {
        qname: '_http._tcp.svc6.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['_http._tcp.svc6.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc6.testns.svc.cluster.local.'],
        extra: ['svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1'],
      },
      {
        qname: 'hdls1.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR',
        answer: ['hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1', 'hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2'],
      },
      { qname: 'svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'zone-apex' },
      { qname: 'pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'zone-apex' },
      { qname: 'testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'namespace' },
      { qname: 'svc.cluster.local.', qtype: 'NS', rcode: 'NOERROR', ns: SOA },
      { qname: 'testns.svc.cluster.local.', qtype: 'NS', rcode: 'NOERROR', ns: SOA },
      { qname: 'foo.cluster.local.', qtype: 'NS', rcode: 'NXDOMAIN', ns: SOA, reason: 'invalid-name' },
      { qname: 'foo.svc.cluster.local.', qtype: 'NS', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-filtered' },
      { qname: 'svc-dual-stack.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3'] },
      { qname: 'svc-dual-stack.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3'] },
      {
        qname: 'svc-dual-stack.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['svc-dual-stack.testns.svc.cluster.local. 5 IN SRV 0 50 80 svc-dual-stack.testns.svc.cluster.local.'],
        extra: ['svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3', 'svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3'],
      },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'SOA', rcode: 'NOERROR', ns: SOA, reason: 'soa-below-apex' },
      { qname: 'endpoint.external.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NXDOMAIN', ns: SOA, reason: 'external-name-subdomain' },
      { qname: 'subdomain.subdomain.external.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NXDOMAIN', ns: SOA },
      // dnsTestCases
      {
        qname: '_http._tcp.hdls1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: [
          '_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 172-0-0-2.hdls1.testns.svc.cluster.local.',
          '_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 172-0-0-3.hdls1.testns.svc.cluster.local.',
          '_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 5678-abcd--1.hdls1.testns.svc.cluster.local.',
          '_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 5678-abcd--2.hdls1.testns.svc.cluster.local.',
          '_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 dup-name.hdls1.testns.svc.cluster.local.',
        ],
        extra: [
          '172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2',
          '172-0-0-3.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3',
          '5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1',
          '5678-abcd--2.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2',
          'dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4',
          'dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5',
        ],
      },
      { qname: '5678-abcd--2.hdls1.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['5678-abcd--2.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2'] },
      { qname: '5678-abcd--1.hdls1.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1'] },
      { qname: '172-0-0-20.hdlsprtls.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['172-0-0-20.hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20'] },
      { qname: '172-0-0-2.hdls1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2'] },
      { qname: '172-0-0-3.hdls1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['172-0-0-3.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3'] },
      {
        qname: 'dup-name.hdls1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR',
        answer: ['dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4', 'dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5'],
      },
      { qname: 'external.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', answer: ['external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test.'] },
      {
        qname: 'external.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR',
        answer: ['external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test.'],
        chase: { name: 'ext.interwebs.test.', qtype: RRType.A },
      },
      {
        qname: 'external-to-service.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR',
        answer: ['external-to-service.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.', 'svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1'],
      },
    ]);
  });

  test('CNAME chains keep the CNAME before its target', () => {
    const a = lookup(store, opts, 'external-to-service.testns.svc.cluster.local.', RRType.A, ZONE);
    assert.deepEqual(a.answers.map((r) => r.type), [RRType.CNAME, RRType.A]);
  });
});

describe('CoreDNS kubernetes_apex_test.go and the zone apex', () => {
  const store = coreDnsFixture();
  const opts: LookupOptions = { primaryZone: ZONE, nsAddresses: ['127.0.0.1'] };
  test('apex', () => {
    run(store, opts, [
      { qname: 'cluster.local.', qtype: 'SOA', rcode: 'NOERROR', answer: SOA },
      { qname: 'cluster.local.', qtype: 'HINFO', rcode: 'NOERROR', ns: SOA, reason: 'zone-apex' },
      { qname: 'cluster.local.', qtype: 'NS', rcode: 'NOERROR', answer: ['cluster.local. 5 IN NS ns.dns.cluster.local.'], extra: ['ns.dns.cluster.local. 5 IN A 127.0.0.1'] },
      { qname: 'cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA },
      { qname: 'cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA },
      { qname: 'cluster.local.', qtype: 'SRV', rcode: 'NOERROR', ns: SOA },
      // TXT for a name without any records is NXDOMAIN in CoreDNS, the apex included.
      { qname: 'cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA, reason: 'txt-name-without-records' },
      { qname: 'svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'testns.svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'cluster.local.', qtype: 'AXFR', rcode: 'REFUSED', reason: 'transfer-refused' },
      { qname: 'cluster.local.', qtype: 'IXFR', rcode: 'REFUSED' },
      { qname: 'ns.dns.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['ns.dns.cluster.local. 5 IN A 127.0.0.1'] },
      { qname: 'ns.dns.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA },
      { qname: 'ns.dns.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', ns: SOA },
      { qname: 'ns.dns.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA, reason: 'invalid-name' },
      { qname: 'dns-version.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'invalid-name' },
      { qname: 'nonexistent.testns.svc.cluster.local.', qtype: 'SOA', rcode: 'NOERROR', ns: SOA, reason: 'soa-below-apex' },
    ]);
  });

  test('dual-stack name servers; no addresses is NODATA', () => {
    run(store, { primaryZone: ZONE, nsAddresses: ['10.96.0.10', 'fd00::a'] }, [
      {
        qname: 'cluster.local.', qtype: 'NS', rcode: 'NOERROR', answer: ['cluster.local. 5 IN NS ns.dns.cluster.local.'],
        extra: ['ns.dns.cluster.local. 5 IN A 10.96.0.10', 'ns.dns.cluster.local. 5 IN AAAA fd00::a'],
      },
      { qname: 'ns.dns.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['ns.dns.cluster.local. 5 IN AAAA fd00::a'] },
    ]);
    run(store, { primaryZone: ZONE }, [{ qname: 'cluster.local.', qtype: 'NS', rcode: 'NOERROR', ns: SOA }]);
  });

  test('SOA fields follow CoreDNS: TTL min(ttl, 300), minimum = ttl', () => {
    assert.equal(rrText(soaRecord('cluster.local.', 42, 5)), 'cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 5');
    assert.equal(rrText(soaRecord('cluster.local.', 42, 600)), 'cluster.local. 300 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 600');
    assert.equal(store.serial, NOW / 1000 + store.generation - 1);
  });
});

describe('NXDOMAIN versus NODATA', () => {
  const store = coreDnsFixture({ namespaces: ['testns'] });
  store.upsertService(clusterIpService('testns', 'v6only', ['fd00::10']));
  store.upsertService(externalService('testns', 'loop', 'loop.testns.svc.cluster.local.'));
  store.upsertService(externalService('testns', 'loop-below', 'x.loop-below.testns.svc.cluster.local.'));
  store.upsertService(externalService('testns', 'dangling', 'nope.testns.svc.cluster.local.'));
  store.upsertService(externalService('testns', 'chain', 'external.testns.svc.cluster.local.'));
  store.upsertService(externalService('testns', 'ipname', '1.2.3.4'));
  store.upsertService(clusterIpService('testns', 'unnamed', ['10.0.0.50'], [port('', 8080)]));
  const opts: LookupOptions = { primaryZone: ZONE };

  test('types the name does not have', () => {
    run(store, opts, [
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'HINFO', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'MX', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'PTR', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'ANY', rcode: 'NOERROR', ns: SOA },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'NS', rcode: 'NOERROR', ns: SOA },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'TYPE65', rcode: 'NOERROR', ns: SOA },
      { qname: 'hdls1.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', ns: SOA },
      { qname: 'v6only.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'v6only.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['v6only.testns.svc.cluster.local. 5 IN AAAA fd00::10'] },
      { qname: 'hdlsprtls.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: 'hdlsprtls.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA },
      { qname: 'external.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', ns: SOA },
      { qname: 'external.testns.svc.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', ns: SOA },
      { qname: 'external.testns.svc.cluster.local.', qtype: 'MX', rcode: 'NOERROR', ns: SOA },
      { qname: 'testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', ns: SOA, reason: 'namespace' },
      { qname: 'testns.svc.cluster.local.', qtype: 'HINFO', rcode: 'NOERROR', ns: SOA, reason: 'namespace' },
      { qname: 'unnamed.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['unnamed.testns.svc.cluster.local. 5 IN A 10.0.0.50'] },
      {
        qname: 'unnamed.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['unnamed.testns.svc.cluster.local. 5 IN SRV 0 100 8080 unnamed.testns.svc.cluster.local.'],
        extra: ['unnamed.testns.svc.cluster.local. 5 IN A 10.0.0.50'],
      },
    ]);
  });

  test('names that do not exist', () => {
    run(store, opts, [
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'HINFO', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-missing' },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-missing' },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'MX', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'svc0.testns.svc.cluster.local.', qtype: 'PTR', rcode: 'NXDOMAIN', ns: SOA },
      { qname: '_http._udp.svc1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'port-missing' },
      { qname: '_https._tcp.svc1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'port-missing' },
      { qname: '_https._tcp.svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'port-missing' },
      { qname: '_http._tcp.hdlsprtls.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'port-missing' },
      { qname: '_http._tcp.external.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'external-name-subdomain' },
      // Unnamed ports have no SRV name.
      { qname: '_._tcp.unnamed.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR', answer: ['_._tcp.unnamed.testns.svc.cluster.local. 5 IN SRV 0 100 8080 unnamed.testns.svc.cluster.local.'], extra: ['unnamed.testns.svc.cluster.local. 5 IN A 10.0.0.50'] },
      { qname: '_http._tcp.unnamed.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'port-missing' },
      // An endpoint label under a ClusterIP service looks at its endpoints (CoreDNS does).
      { qname: 'ep1a.svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['ep1a.svc1.testns.svc.cluster.local. 5 IN A 172.0.0.1'] },
      { qname: '172-0-0-1.svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-missing' },
      { qname: '_tcp.svc1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-missing' },
      // Wildcard queries were removed in CoreDNS 1.9.0: "*" and "any" are names like others.
      { qname: '*.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-missing' },
      { qname: 'any.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'svc1.*.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
      { qname: '_*._*.svc1.testns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'a.b.c.svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'invalid-name' },
      { qname: 'svc1.testns.svcx.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'invalid-name' },
      { qname: 'foo.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'invalid-name' },
      { qname: 'svc1.unexposedns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-filtered' },
    ]);
  });

  test('ExternalName: loops, dangling in-zone targets, chains, IP externalNames', () => {
    run(store, opts, [
      { qname: 'loop.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'cname-loop' },
      { qname: 'loop-below.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA, reason: 'cname-loop' },
      { qname: 'loop.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', answer: ['loop.testns.svc.cluster.local. 5 IN CNAME loop.testns.svc.cluster.local.'] },
      { qname: 'dangling.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'cname-target-empty' },
      { qname: 'dangling.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', answer: ['dangling.testns.svc.cluster.local. 5 IN CNAME nope.testns.svc.cluster.local.'] },
      {
        qname: 'chain.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR',
        answer: ['chain.testns.svc.cluster.local. 5 IN CNAME external.testns.svc.cluster.local.', 'external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test.'],
        chase: { name: 'ext.interwebs.test.', qtype: RRType.AAAA },
      },
      { qname: 'external-to-service.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA, reason: 'cname-target-empty' },
      { qname: 'ipname.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'external-name-invalid' },
    ]);
  });

  test('deps and sources', () => {
    const a = lookup(store, opts, 'svc1.testns.svc.cluster.local.', RRType.A, ZONE);
    assert.deepEqual(a.deps, ['N/testns', 'S/testns/svc1']);
    assert.deepEqual(a.sources, [{ kind: 'Service', namespace: 'testns', name: 'svc1' }]);
    const neg = lookup(store, opts, 'svc0.testns.svc.cluster.local.', RRType.A, ZONE);
    assert.deepEqual(neg.deps, ['N/testns', 'S/testns/svc0', SERIAL_DEP]);
    const chain = lookup(store, opts, 'external-to-service.testns.svc.cluster.local.', RRType.A, ZONE);
    assert.deepEqual(chain.deps, ['N/testns', 'S/testns/external-to-service', 'S/testns/svc1']);
    const h = lookup(store, opts, 'hdls1.testns.svc.cluster.local.', RRType.AAAA, ZONE);
    assert.deepEqual(h.sources, [
      { kind: 'Service', namespace: 'testns', name: 'hdls1' },
      { kind: 'EndpointSlice', namespace: 'testns', name: 'hdls1-v4' },
      { kind: 'EndpointSlice', namespace: 'testns', name: 'hdls1-v6' },
    ]);
    const apex = lookup(store, opts, 'cluster.local.', RRType.SOA, ZONE);
    assert.deepEqual(apex.deps, [SERIAL_DEP]);
    const version = lookup(store, opts, 'dns-version.cluster.local.', RRType.TXT, ZONE);
    assert.deepEqual(version.deps, []);
  });
});

describe('headless readiness and endpoint names', () => {
  function store(opts: RecordStoreOptions = {}): RecordStore {
    const s = new RecordStore({ now: () => NOW, ...opts });
    s.upsertNamespace({ name: 'ns' });
    s.upsertService(headlessService('ns', 'notready', [port('http', 80)]));
    s.upsertEndpointSlice(slice('ns', 'notready-1', 'notready', [
      endpoint('10.1.0.1', { ready: false, serving: false }),
      endpoint('10.1.0.2', { ready: false, serving: true, terminating: true, hostname: 'old' }),
      // The EndpointSlice controller never sets ready on a terminating endpoint without
      // publishNotReadyAddresses; if another writer does, terminating still wins.
      endpoint('10.1.0.3', { ready: true, serving: true, terminating: true, hostname: 'going' }),
    ], [port('http', 80)]));
    s.upsertService(headlessService('ns', 'pnr', [port('http', 80)], { publishNotReadyAddresses: true }));
    s.upsertEndpointSlice(slice('ns', 'pnr-1', 'pnr', [endpoint('10.2.0.1', { ready: false }), endpoint('10.2.0.2')], [port('http', 80)]));
    s.upsertService(headlessService('ns', 'mixed', [port('http', 80)]));
    s.upsertEndpointSlice(slice('ns', 'mixed-1', 'mixed', [
      endpoint('10.3.0.1', { hostname: 'web-0', podName: 'web-0' }),
      endpoint('10.3.0.2', { ready: false, hostname: 'web-1' }),
      endpoint('10.3.0.3', { podName: 'api-7d9f-x2' }),
      endpoint('10.3.0.4', { podName: 'p'.repeat(64) }),
    ], [port('http', 80), port('metrics', 9090)]));
    s.upsertService(headlessService('ns', 'empty'));
    s.upsertService(headlessService('ns', 'dedupe', [port('http', 80)]));
    s.upsertEndpointSlice(slice('ns', 'dedupe-a', 'dedupe', [endpoint('10.4.0.1'), endpoint('10.4.0.2')], [port('http', 80)]));
    s.upsertEndpointSlice(slice('ns', 'dedupe-b', 'dedupe', [endpoint('10.4.0.2'), endpoint('10.4.0.3')], [port('http', 80)]));
    s.upsertService(headlessService('ns', 'dual'));
    s.upsertEndpointSlice(slice('ns', 'dual-4', 'dual', [endpoint('10.5.0.1')], [], 'IPv4'));
    s.upsertEndpointSlice(slice('ns', 'dual-6', 'dual', [endpoint('fd00::5:1'), endpoint('fd00::')], [], 'IPv6'));
    return s;
  }
  const opts: LookupOptions = { primaryZone: ZONE };

  test('not ready and terminating endpoints are not published', () => {
    run(store(), opts, [
      { qname: 'notready.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'headless-not-ready' },
      { qname: 'old.notready.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-not-ready' },
      { qname: 'going.notready.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-not-ready' },
      { qname: 'empty.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'headless-no-endpoints' },
      { qname: 'empty.ns.svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA, reason: 'headless-no-endpoints' },
      { qname: 'pnr.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['pnr.ns.svc.cluster.local. 5 IN A 10.2.0.1', 'pnr.ns.svc.cluster.local. 5 IN A 10.2.0.2'] },
      { qname: 'mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['mixed.ns.svc.cluster.local. 5 IN A 10.3.0.1', 'mixed.ns.svc.cluster.local. 5 IN A 10.3.0.3', 'mixed.ns.svc.cluster.local. 5 IN A 10.3.0.4'] },
      { qname: 'web-1.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-not-ready' },
      { qname: 'web-0.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['web-0.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.1'] },
      { qname: 'web-0.mixed.ns.svc.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: '10-3-0-3.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['10-3-0-3.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.3'] },
      { qname: 'api-7d9f-x2.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoint-missing' },
      {
        qname: '_metrics._tcp.mixed.ns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: [
          '_metrics._tcp.mixed.ns.svc.cluster.local. 5 IN SRV 0 33 9090 web-0.mixed.ns.svc.cluster.local.',
          '_metrics._tcp.mixed.ns.svc.cluster.local. 5 IN SRV 0 33 9090 10-3-0-3.mixed.ns.svc.cluster.local.',
          '_metrics._tcp.mixed.ns.svc.cluster.local. 5 IN SRV 0 33 9090 10-3-0-4.mixed.ns.svc.cluster.local.',
        ],
        extra: [
          'web-0.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.1',
          '10-3-0-3.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.3',
          '10-3-0-4.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.4',
        ],
      },
      {
        // Two ports, three endpoints: six entries, weight floor(100/6).
        qname: 'mixed.ns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: [
          'mixed.ns.svc.cluster.local. 5 IN SRV 0 16 80 web-0.mixed.ns.svc.cluster.local.',
          'mixed.ns.svc.cluster.local. 5 IN SRV 0 16 9090 web-0.mixed.ns.svc.cluster.local.',
          'mixed.ns.svc.cluster.local. 5 IN SRV 0 16 80 10-3-0-3.mixed.ns.svc.cluster.local.',
          'mixed.ns.svc.cluster.local. 5 IN SRV 0 16 9090 10-3-0-3.mixed.ns.svc.cluster.local.',
          'mixed.ns.svc.cluster.local. 5 IN SRV 0 16 80 10-3-0-4.mixed.ns.svc.cluster.local.',
          'mixed.ns.svc.cluster.local. 5 IN SRV 0 16 9090 10-3-0-4.mixed.ns.svc.cluster.local.',
        ],
        extra: [
          'web-0.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.1',
          '10-3-0-3.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.3',
          '10-3-0-4.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.4',
        ],
      },
      { qname: '_grpc._tcp.mixed.ns.svc.cluster.local.', qtype: 'SRV', rcode: 'NXDOMAIN', ns: SOA, reason: 'port-missing' },
      {
        qname: 'dedupe.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR',
        answer: ['dedupe.ns.svc.cluster.local. 5 IN A 10.4.0.1', 'dedupe.ns.svc.cluster.local. 5 IN A 10.4.0.2', 'dedupe.ns.svc.cluster.local. 5 IN A 10.4.0.3'],
      },
      {
        // Deduplicated across slices: three entries, weight 33.
        qname: '_http._tcp.dedupe.ns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: [
          '_http._tcp.dedupe.ns.svc.cluster.local. 5 IN SRV 0 33 80 10-4-0-1.dedupe.ns.svc.cluster.local.',
          '_http._tcp.dedupe.ns.svc.cluster.local. 5 IN SRV 0 33 80 10-4-0-2.dedupe.ns.svc.cluster.local.',
          '_http._tcp.dedupe.ns.svc.cluster.local. 5 IN SRV 0 33 80 10-4-0-3.dedupe.ns.svc.cluster.local.',
        ],
        extra: [
          '10-4-0-1.dedupe.ns.svc.cluster.local. 5 IN A 10.4.0.1',
          '10-4-0-2.dedupe.ns.svc.cluster.local. 5 IN A 10.4.0.2',
          '10-4-0-3.dedupe.ns.svc.cluster.local. 5 IN A 10.4.0.3',
        ],
      },
      { qname: 'dual.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['dual.ns.svc.cluster.local. 5 IN A 10.5.0.1'] },
      { qname: 'dual.ns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['dual.ns.svc.cluster.local. 5 IN AAAA fd00::5:1', 'dual.ns.svc.cluster.local. 5 IN AAAA fd00::'] },
      { qname: 'fd00--5-1.dual.ns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['fd00--5-1.dual.ns.svc.cluster.local. 5 IN AAAA fd00::5:1'] },
      { qname: 'fd00--0.dual.ns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['fd00--0.dual.ns.svc.cluster.local. 5 IN AAAA fd00::'] },
      { qname: 'fd00--5-1.dual.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
    ]);
  });

  test('endpoint_pod_names: pod name when there is no hostname (and it is < 64 chars)', () => {
    run(store({ endpointPodNames: true }), opts, [
      { qname: 'api-7d9f-x2.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['api-7d9f-x2.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.3'] },
      { qname: '10-3-0-3.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
      { qname: '10-3-0-4.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['10-3-0-4.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.4'] },
      { qname: 'web-0.mixed.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['web-0.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.1'] },
      {
        qname: '_http._tcp.mixed.ns.svc.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: [
          '_http._tcp.mixed.ns.svc.cluster.local. 5 IN SRV 0 33 80 web-0.mixed.ns.svc.cluster.local.',
          '_http._tcp.mixed.ns.svc.cluster.local. 5 IN SRV 0 33 80 api-7d9f-x2.mixed.ns.svc.cluster.local.',
          '_http._tcp.mixed.ns.svc.cluster.local. 5 IN SRV 0 33 80 10-3-0-4.mixed.ns.svc.cluster.local.',
        ],
        extra: [
          'web-0.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.1',
          'api-7d9f-x2.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.3',
          '10-3-0-4.mixed.ns.svc.cluster.local. 5 IN A 10.3.0.4',
        ],
      },
      { qname: '3.0.3.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: ['3.0.3.10.in-addr.arpa. 5 IN PTR api-7d9f-x2.mixed.ns.svc.cluster.local.'] },
    ]);
  });

  test('noendpoints: headless and endpoint names are NXDOMAIN, ClusterIPs still answer', () => {
    const s = store({ noEndpoints: true });
    s.upsertService(clusterIpService('ns', 'web', ['10.9.0.1']));
    s.upsertEndpointSlice(slice('ns', 'web-1', 'web', [endpoint('10.9.1.1', { hostname: 'w' })]));
    run(s, opts, [
      { qname: 'pnr.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoints-disabled' },
      { qname: 'w.web.ns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'endpoints-disabled' },
      { qname: 'web.ns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['web.ns.svc.cluster.local. 5 IN A 10.9.0.1'] },
      { qname: '1.1.9.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NXDOMAIN', ns: [rrText(soaRecord('in-addr.arpa.', s.serial, 5))] },
    ]);
  });
});

describe('ignore empty_service (CoreDNS handler_ignore_emptyservice_test.go)', () => {
  const store = coreDnsFixture({ ignoreEmptyService: true });
  store.upsertService(headlessService('testns', 'hdls-empty'));
  test('ClusterIP services without ready endpoints are NXDOMAIN', () => {
    run(store, { primaryZone: ZONE }, [
      { qname: 'svcempty.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-no-endpoints' },
      { qname: 'svcempty.testns.svc.cluster.local.', qtype: 'TXT', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'svc6.testns.svc.cluster.local.', qtype: 'AAAA', rcode: 'NXDOMAIN', ns: SOA, reason: 'service-no-endpoints' },
      { qname: 'external.testns.svc.cluster.local.', qtype: 'CNAME', rcode: 'NOERROR', answer: ['external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test.'] },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1'] },
      { qname: 'hdls-empty.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'headless-no-endpoints' },
    ]);
  });
});

describe('namespaces: exposure and existence (CoreDNS TestServeNamespaceDNS)', () => {
  test('without the namespaces option every existing namespace is exposed', () => {
    const store = coreDnsFixture();
    run(store, { primaryZone: ZONE }, [
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1'] },
      { qname: 'svc1.unexposedns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['svc1.unexposedns.svc.cluster.local. 5 IN A 10.0.0.2'] },
      { qname: 'svc1.nsnoexist.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-missing' },
      { qname: 'nsnoexist.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-missing' },
      { qname: 'unexposedns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'namespace' },
    ]);
    // A service whose Namespace object is gone is not served (CoreDNS's namespaceExposed).
    store.deleteNamespace('unexposedns');
    run(store, { primaryZone: ZONE }, [
      { qname: 'svc1.unexposedns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-missing' },
      // Reverse lookups check existence only with the namespaces option (CoreDNS reverse.go).
      { qname: '2.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: ['2.0.0.10.in-addr.arpa. 5 IN PTR svc1.unexposedns.svc.cluster.local.'] },
    ]);
  });

  test('with the option, filtered namespaces are not stored and existing ones must exist', () => {
    const store = coreDnsFixture({ namespaces: ['testns', 'gone'] });
    store.upsertService(clusterIpService('gone', 'x', ['10.0.9.9']));
    assert.equal(store.entry('unexposedns', 'svc1'), undefined);
    run(store, { primaryZone: ZONE }, [
      { qname: 'svc1.unexposedns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-filtered' },
      { qname: 'unexposedns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-filtered' },
      { qname: 'x.gone.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-missing' },
      { qname: '2.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NXDOMAIN', ns: [rrText(soaRecord('in-addr.arpa.', store.serial, 5))], reason: 'ptr-missing' },
      { qname: '9.9.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NXDOMAIN', ns: [rrText(soaRecord('in-addr.arpa.', store.serial, 5))], reason: 'ptr-missing' },
    ]);
  });
});

describe('reverse lookups (PTR)', () => {
  const store = coreDnsFixture();
  store.upsertService(clusterIpService('testns', 'svc2', ['10.0.0.99']));
  store.upsertEndpointSlice(slice('testns', 'svc1-double', 'svc1', [endpoint('10.0.0.199', { hostname: 'double-ep' })]));
  store.upsertEndpointSlice(slice('testns', 'svc2-double', 'svc2', [endpoint('10.0.0.199', { hostname: 'double-ep' })]));
  const ip6 = (nibbles: string): string => `${nibbles}.ip6.arpa.`;
  const soa = (zone: string): string[] => [rrText(soaRecord(zone, store.serial, 5))];
  const opts: LookupOptions = { primaryZone: ZONE };
  test('ClusterIPs and endpoints, IPv4 and IPv6', () => {
    run(store, opts, [
      { qname: '1.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: ['1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.svc.cluster.local.'] },
      { qname: '3.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: '0.10.in-addr.arpa.', rcode: 'NOERROR', answer: ['3.0.0.10.in-addr.arpa. 5 IN PTR svc-dual-stack.testns.svc.cluster.local.'] },
      {
        qname: ip6('3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0'), qtype: 'PTR', zone: 'ip6.arpa.', rcode: 'NOERROR',
        answer: [`${ip6('3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0')} 5 IN PTR svc-dual-stack.testns.svc.cluster.local.`],
      },
      {
        qname: ip6('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1'), qtype: 'PTR', zone: 'ip6.arpa.', rcode: 'NOERROR',
        answer: [`${ip6('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1')} 5 IN PTR svc6.testns.svc.cluster.local.`],
      },
      { qname: '2.0.0.172.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: ['2.0.0.172.in-addr.arpa. 5 IN PTR 172-0-0-2.hdls1.testns.svc.cluster.local.'] },
      { qname: '4.0.0.172.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: ['4.0.0.172.in-addr.arpa. 5 IN PTR dup-name.hdls1.testns.svc.cluster.local.'] },
      // Endpoints of ClusterIP services have PTRs too (CoreDNS's EpIndexReverse has every slice).
      { qname: '1.0.0.172.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: ['1.0.0.172.in-addr.arpa. 5 IN PTR ep1a.svc1.testns.svc.cluster.local.'] },
      {
        qname: ip6('2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5'), qtype: 'PTR', zone: 'ip6.arpa.', rcode: 'NOERROR',
        answer: [`${ip6('2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5')} 5 IN PTR 5678-abcd--2.hdls1.testns.svc.cluster.local.`],
      },
      {
        qname: '199.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR',
        answer: ['199.0.0.10.in-addr.arpa. 5 IN PTR double-ep.svc1.testns.svc.cluster.local.', '199.0.0.10.in-addr.arpa. 5 IN PTR double-ep.svc2.testns.svc.cluster.local.'],
      },
      { qname: '101.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: '0.10.in-addr.arpa.', rcode: 'NXDOMAIN', ns: soa('0.10.in-addr.arpa.'), reason: 'ptr-missing' },
      { qname: '0.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NXDOMAIN', ns: soa('in-addr.arpa.'), reason: 'invalid-name' },
      { qname: '01.0.0.10.in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NXDOMAIN', ns: soa('in-addr.arpa.') },
      { qname: 'in-addr.arpa.', qtype: 'PTR', zone: 'in-addr.arpa.', rcode: 'NOERROR', ns: soa('in-addr.arpa.'), reason: 'zone-apex' },
      { qname: 'in-addr.arpa.', qtype: 'SOA', zone: 'in-addr.arpa.', rcode: 'NOERROR', answer: soa('in-addr.arpa.') },
      // Other types at reverse names are NXDOMAIN in CoreDNS, even where a PTR exists.
      { qname: '1.0.0.10.in-addr.arpa.', qtype: 'A', zone: 'in-addr.arpa.', rcode: 'NXDOMAIN', ns: soa('in-addr.arpa.'), reason: 'invalid-name' },
      { qname: 'svc1.testns.svc.0.10.in-addr.arpa.', qtype: 'A', zone: '0.10.in-addr.arpa.', rcode: 'NXDOMAIN', ns: soa('0.10.in-addr.arpa.'), reason: 'reverse-name' },
      // CoreDNS reverse_test.go: names in the forward zone.
      { qname: 'example.org.cluster.local.', qtype: 'PTR', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'svc1.testns.svc.cluster.local.', qtype: 'PTR', rcode: 'NOERROR', ns: SOA },
      { qname: '100.0.0.10.cluster.local.', qtype: 'PTR', rcode: 'NXDOMAIN', ns: SOA },
    ]);
  });
});

describe('pods (CoreDNS handler_pod_*_test.go)', () => {
  function store(mode: 'disabled' | 'insecure' | 'verified'): RecordStore {
    const s = new RecordStore({ now: () => NOW, pods: mode });
    for (const ns of ['podns', 'svcns', 'other']) s.upsertNamespace({ name: ns });
    s.upsertPod({ namespace: 'podns', name: 'foo', ips: ['10.240.0.1', 'fd00::f00'], running: true });
    s.upsertPod({ namespace: 'podns', name: 'done', ips: ['10.240.0.9'], running: false });
    s.upsertPod({ namespace: 'other', name: 'bar', ips: ['10.240.0.2'], running: true });
    return s;
  }
  const opts: LookupOptions = { primaryZone: ZONE };

  test('disabled', () => {
    run(store('disabled'), opts, [
      { qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pods-disabled' },
      { qname: '172-0-0-2.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pods-disabled' },
      { qname: 'pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA },
    ]);
  });

  test('insecure', () => {
    run(store('insecure'), opts, [
      { qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['10-240-0-1.podns.pod.cluster.local. 5 IN A 10.240.0.1'] },
      { qname: '172-0-0-2.podns.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['172-0-0-2.podns.pod.cluster.local. 5 IN A 172.0.0.2'] },
      { qname: 'blah.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pod-name-invalid' },
      { qname: 'blah.podns.pod.cluster.local.', qtype: 'AAAA', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'blah.podns.pod.cluster.local.', qtype: 'HINFO', rcode: 'NXDOMAIN', ns: SOA },
      { qname: 'blah.pod-nons.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'namespace-missing' },
      { qname: 'podns.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA, reason: 'namespace' },
      { qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA, reason: 'no-data' },
      { qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', ns: SOA },
      { qname: 'fd00--1.podns.pod.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['fd00--1.podns.pod.cluster.local. 5 IN AAAA fd00::1'] },
      { qname: '010-240-0-1.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pod-name-invalid' },
      { qname: '10-240-0-256.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
      // Labels left of the pod are ignored, as in CoreDNS's findPods.
      { qname: 'x.10-240-0-1.podns.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['x.10-240-0-1.podns.pod.cluster.local. 5 IN A 10.240.0.1'] },
      {
        qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'SRV', rcode: 'NOERROR',
        answer: ['10-240-0-1.podns.pod.cluster.local. 5 IN SRV 0 100 0 10-240-0-1.podns.pod.cluster.local.'],
        extra: ['10-240-0-1.podns.pod.cluster.local. 5 IN A 10.240.0.1'],
      },
    ]);
  });

  test('verified', () => {
    run(store('verified'), opts, [
      { qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['10-240-0-1.podns.pod.cluster.local. 5 IN A 10.240.0.1'] },
      { qname: 'fd00--f00.podns.pod.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', answer: ['fd00--f00.podns.pod.cluster.local. 5 IN AAAA fd00::f00'] },
      { qname: 'podns.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA },
      { qname: 'svcns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', ns: SOA },
      { qname: 'pod-nons.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
      { qname: '172-0-0-2.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pod-missing' },
      { qname: '10-240-0-2.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pod-missing' },
      { qname: '10-240-0-2.other.pod.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: ['10-240-0-2.other.pod.cluster.local. 5 IN A 10.240.0.2'] },
      { qname: '10-240-0-9.podns.pod.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA, reason: 'pod-missing' },
      { qname: 'fd00-0-0-0-0-0-0-f00.podns.pod.cluster.local.', qtype: 'AAAA', rcode: 'NXDOMAIN', ns: SOA, reason: 'pod-missing' },
      { qname: '10-240-0-1.podns.pod.cluster.local.', qtype: 'AAAA', rcode: 'NOERROR', ns: SOA },
    ]);
    const a = lookup(store('verified'), opts, '10-240-0-1.podns.pod.cluster.local.', RRType.A, ZONE);
    assert.deepEqual(a.sources, [{ kind: 'Pod', namespace: 'podns', name: 'foo' }]);
    assert.deepEqual(a.deps, ['N/podns', 'P/10.240.0.1']);
  });
});

describe('ttl option', () => {
  test('records, SOA TTL capped at 300, SOA minimum = ttl; dns-version keeps 28800', () => {
    const store = coreDnsFixture();
    for (const ttl of [0, 30, 3600]) {
      const opts: LookupOptions = { primaryZone: ZONE, ttl };
      run(store, opts, [
        { qname: 'svc1.testns.svc.cluster.local.', qtype: 'A', rcode: 'NOERROR', answer: [`svc1.testns.svc.cluster.local. ${ttl} IN A 10.0.0.1`] },
        { qname: 'svc0.testns.svc.cluster.local.', qtype: 'A', rcode: 'NXDOMAIN', ns: SOA },
        { qname: 'dns-version.cluster.local.', qtype: 'TXT', rcode: 'NOERROR', answer: ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'] },
      ]);
      const neg: KubeAnswer = lookup(store, opts, 'svc0.testns.svc.cluster.local.', RRType.A, ZONE);
      assert.equal(neg.authority, 'soa');
      const soa = soaRecord(ZONE, store.serial, ttl);
      assert.equal(soa.ttl, Math.min(ttl, 300));
      assert.ok('minimum' in soa && soa.minimum === ttl);
    }
  });
});
