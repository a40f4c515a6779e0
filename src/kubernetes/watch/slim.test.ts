import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { canonicalExternalName, toSlimEndpointSlice, toSlimNamespace, toSlimPod, toSlimService } from './slim.js';

const meta = (name: string, namespace = 'ns', extra: Record<string, unknown> = {}) => ({ metadata: { name, namespace, ...extra } });

test('services', async (t) => {
  const cases: Array<{ name: string; in: unknown; want: unknown }> = [
    {
      name: 'ClusterIP with dual-stack clusterIPs',
      in: { ...meta('web'), spec: { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', 'fd00::1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] } },
      want: { namespace: 'ns', name: 'web', type: 'ClusterIP', clusterIPs: ['10.0.0.1', 'fd00::1'], headless: false, ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: '', port: 53, protocol: 'UDP' }], publishNotReadyAddresses: false },
    },
    {
      name: 'clusterIP only (old objects), default type and protocol',
      in: { ...meta('old'), spec: { clusterIP: '10.0.0.2', ports: [{ name: 'x', port: 8080 }] } },
      want: { namespace: 'ns', name: 'old', type: 'ClusterIP', clusterIPs: ['10.0.0.2'], headless: false, ports: [{ name: 'x', port: 8080, protocol: 'TCP' }], publishNotReadyAddresses: false },
    },
    {
      name: 'headless',
      in: { ...meta('h'), spec: { clusterIP: 'None', clusterIPs: ['None'], publishNotReadyAddresses: true } },
      want: { namespace: 'ns', name: 'h', type: 'ClusterIP', clusterIPs: [], headless: true, ports: [], publishNotReadyAddresses: true },
    },
    {
      name: 'ExternalName: lower-cased, absolute',
      in: { ...meta('e'), spec: { type: 'ExternalName', externalName: 'Foo.Example.COM' } },
      want: { namespace: 'ns', name: 'e', type: 'ExternalName', clusterIPs: [], headless: false, externalName: 'foo.example.com.', ports: [], publishNotReadyAddresses: false },
    },
    {
      name: 'ExternalName already absolute; stray clusterIP ignored',
      in: { ...meta('e2'), spec: { type: 'ExternalName', externalName: 'a.b.', clusterIP: '10.0.0.9' } },
      want: { namespace: 'ns', name: 'e2', type: 'ExternalName', clusterIPs: [], headless: false, externalName: 'a.b.', ports: [], publishNotReadyAddresses: false },
    },
    {
      name: 'NodePort and LoadBalancer keep their type; bad ports dropped; unknown protocol is TCP',
      in: { ...meta('np'), spec: { type: 'NodePort', clusterIP: '10.0.0.3', ports: [{ port: 0 }, { port: 'x' }, { port: 70000 }, { port: 1, protocol: 'ICMP' }] } },
      want: { namespace: 'ns', name: 'np', type: 'NodePort', clusterIPs: ['10.0.0.3'], headless: false, ports: [{ name: '', port: 1, protocol: 'TCP' }], publishNotReadyAddresses: false },
    },
    { name: 'no namespace', in: { metadata: { name: 'x' }, spec: {} }, want: null },
    { name: 'no name', in: { metadata: { namespace: 'x' } }, want: null },
    { name: 'not an object', in: 'svc', want: null },
  ];
  for (const c of cases) await t.test(c.name, () => assert.deepEqual(toSlimService(c.in), c.want));
  assert.equal(toSlimService({ ...meta('lb'), spec: { type: 'LoadBalancer', clusterIP: '10.0.0.4' } })!.type, 'LoadBalancer');
  assert.equal(toSlimService({ ...meta('weird'), spec: { type: 'Bogus', clusterIP: '10.0.0.4' } })!.type, 'ClusterIP');
  assert.equal(canonicalExternalName(''), undefined);
  assert.equal(canonicalExternalName(' X.Y '), 'x.y.');
});

test('endpoint slices', async (t) => {
  const slice = (extra: Record<string, unknown>, labels: Record<string, string> = { 'kubernetes.io/service-name': 'web' }, annotations?: Record<string, string>) => ({
    metadata: { name: 'web-1', namespace: 'ns', labels, ...(annotations && { annotations }) },
    addressType: 'IPv4',
    ...extra,
  });
  await t.test('conditions: nil ready is true, nil serving follows ready, nil terminating is false', () => {
    const s = toSlimEndpointSlice(slice({
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'all' }],
      endpoints: [
        { addresses: ['10.1.0.1'] },
        { addresses: ['10.1.0.2'], conditions: { ready: false } },
        { addresses: ['10.1.0.3'], conditions: { ready: false, serving: true, terminating: true } },
        { addresses: ['10.1.0.4'], conditions: { serving: false } },
        { addresses: [] },
      ],
    }))!;
    assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(s.endpoints.map((e) => [e.addresses[0], e.ready, e.serving, e.terminating]), [
      ['10.1.0.1', true, true, false],
      ['10.1.0.2', false, false, false],
      ['10.1.0.3', false, true, true],
      ['10.1.0.4', true, false, false],
    ]);
  });
  await t.test('hostname, nodeName, pod name from a Pod targetRef only', () => {
    const s = toSlimEndpointSlice(slice({
      endpoints: [
        { addresses: ['10.1.0.1'], hostname: 'web-0', nodeName: 'n1', targetRef: { kind: 'Pod', name: 'web-0', namespace: 'ns' } },
        { addresses: ['10.1.0.2'], targetRef: { kind: 'Node', name: 'n2' } },
      ],
    }))!;
    assert.deepEqual(s.endpoints[0], { addresses: ['10.1.0.1'], ready: true, serving: true, terminating: false, hostname: 'web-0', nodeName: 'n1', podName: 'web-0' });
    assert.deepEqual(s.endpoints[1], { addresses: ['10.1.0.2'], ready: true, serving: true, terminating: false });
  });
  await t.test('service name label, address type, trigger time', () => {
    const s = toSlimEndpointSlice(slice({ addressType: 'IPv6', endpoints: [] }, undefined, { 'endpoints.kubernetes.io/last-change-trigger-time': '2024-05-01T10:00:00Z' }))!;
    assert.equal(s.serviceName, 'web');
    assert.equal(s.addressType, 'IPv6');
    assert.equal(s.lastChangeTriggerTime, Date.UTC(2024, 4, 1, 10));
    assert.equal(toSlimEndpointSlice(slice({}, undefined, { 'endpoints.kubernetes.io/last-change-trigger-time': 'garbage' }))!.lastChangeTriggerTime, undefined);
    assert.equal(toSlimEndpointSlice(slice({}, {})), null, 'no service-name label');
    assert.equal(toSlimEndpointSlice(slice({ addressType: 'IPv5' })), null);
    assert.equal(toSlimEndpointSlice(slice({ addressType: 'FQDN' }))!.addressType, 'FQDN');
    assert.deepEqual(toSlimEndpointSlice(slice({ endpoints: null }))!.endpoints, []);
  });
});

test('namespaces and pods', () => {
  assert.deepEqual(toSlimNamespace({ metadata: { name: 'kube-system' } }), { name: 'kube-system' });
  assert.equal(toSlimNamespace({ metadata: {} }), null);
  assert.deepEqual(toSlimPod({ ...meta('p'), status: { phase: 'Running', podIP: '10.1.0.1', podIPs: [{ ip: '10.1.0.1' }, { ip: 'fd00::5' }] } }),
    { namespace: 'ns', name: 'p', ips: ['10.1.0.1', 'fd00::5'], running: true });
  assert.deepEqual(toSlimPod({ ...meta('old'), status: { phase: 'Running', podIP: '10.1.0.2' } }),
    { namespace: 'ns', name: 'old', ips: ['10.1.0.2'], running: true });
  assert.equal(toSlimPod({ ...meta('pending'), status: { phase: 'Pending' } })!.running, false);
  assert.deepEqual(toSlimPod({ ...meta('pending'), status: { phase: 'Pending' } })!.ips, []);
  assert.equal(toSlimPod({ ...meta('going', 'ns', { deletionTimestamp: '2024-01-01T00:00:00Z' }), status: { phase: 'Running', podIP: '10.1.0.3' } })!.running, false);
  assert.equal(toSlimPod({ metadata: { name: 'x' } }), null);
});

test('slim objects keep no spare array capacity (measured heap per object)', () => {
  // Arrays grown by push()/filter() reserve 17 slots: ~130 spare bytes per one-element array,
  // ~40 MB over 200k objects before exact() (see slim.ts). Measured against V8's own heap counter.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const n = 20_000;
  const services = JSON.parse(JSON.stringify(Array.from({ length: n }, (_, i) => ({
    ...meta(`svc-${i}`, `ns-${i % 50}`), spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, clusterIPs: [`10.96.${i >> 8}.${i & 255}`], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  })))) as unknown[];
  const slices = JSON.parse(JSON.stringify(Array.from({ length: n / 10 }, (_, j) => ({
    ...meta(`hl-${j}-x`, 'ns', { labels: { 'kubernetes.io/service-name': `hl-${j}` } }),
    addressType: 'IPv4', ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    endpoints: Array.from({ length: 10 }, (_, k) => ({ addresses: [`10.128.${j >> 4}.${(j & 15) * 16 + k}`], hostname: `pod-${k}`, conditions: { ready: true } })),
  })))) as unknown[];
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = [...services.map(toSlimService), ...slices.map(toSlimEndpointSlice)];
  gc();
  const perObject = (process.memoryUsage().heapUsed - before) / (n + n); // n services + n endpoints
  assert.equal(kept.length, n + n / 10);
  // The inputs' strings stay alive, so this counts the slim objects and their arrays only:
  // 38 B per object (services and endpoints averaged) with exact arrays, 252 B with push()-grown ones.
  assert.ok(perObject < 120, `slim heap ${perObject.toFixed(0)} B per object`);
});
