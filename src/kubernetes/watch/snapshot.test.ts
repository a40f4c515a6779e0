import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ConfigError, ErrorCodes } from '../../errors.js';
import type { ObjectSink } from '../objects.js';
import { loadSnapshot, parseSnapshot, watchSnapshotFile } from './snapshot.js';

// What `kubectl get svc,endpointslices,ns -A -o yaml` writes (trimmed).
const KUBECTL_YAML = `apiVersion: v1
items:
- apiVersion: v1
  kind: Service
  metadata:
    creationTimestamp: "2024-05-01T10:00:00Z"
    name: web
    namespace: default
    resourceVersion: "512"
    uid: 0b6f7a4e-1111-2222-3333-444455556666
  spec:
    clusterIP: 10.96.0.10
    clusterIPs:
    - 10.96.0.10
    internalTrafficPolicy: Cluster
    ipFamilies:
    - IPv4
    ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: 8080
    selector:
      app: web
    type: ClusterIP
  status:
    loadBalancer: {}
- addressType: IPv4
  apiVersion: discovery.k8s.io/v1
  endpoints:
  - addresses:
    - 10.1.0.1
    conditions:
      ready: true
      serving: true
      terminating: false
    nodeName: node-1
    targetRef:
      kind: Pod
      name: web-0
      namespace: default
  kind: EndpointSlice
  metadata:
    annotations:
      endpoints.kubernetes.io/last-change-trigger-time: "2024-05-01T10:00:05Z"
    labels:
      kubernetes.io/service-name: web
    name: web-abcde
    namespace: default
  ports:
  - name: http
    port: 8080
    protocol: TCP
- apiVersion: v1
  kind: Namespace
  metadata:
    name: default
  spec:
    finalizers:
    - kubernetes
  status:
    phase: Active
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: other
    namespace: default
kind: List
metadata:
  resourceVersion: ""
`;

test('a kubectl List in YAML', () => {
  const p = parseSnapshot(KUBECTL_YAML, 'snap.yaml');
  assert.equal(p.services.length, 1);
  assert.deepEqual(p.services[0]!.clusterIPs, ['10.96.0.10']);
  assert.equal(p.endpointSlices[0]!.endpoints[0]!.podName, 'web-0');
  assert.equal(p.endpointSlices[0]!.lastChangeTriggerTime, Date.UTC(2024, 4, 1, 10, 0, 5));
  assert.deepEqual(p.namespaces, [{ name: 'default' }]);
  assert.equal(p.skipped, 1, 'the ConfigMap');
});

test('JSON: a List, a typed list without item kinds, a plain array; several YAML documents', () => {
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'x' }, spec: { clusterIP: 'None' } }] });
  assert.equal(parseSnapshot(list, 'f.json').services[0]!.headless, true);
  const typed = JSON.stringify({ apiVersion: 'v1', kind: 'ServiceList', metadata: {}, items: [{ metadata: { name: 'b', namespace: 'x' }, spec: { clusterIP: '10.0.0.2' } }] });
  assert.equal(parseSnapshot(typed, 'f.json').services[0]!.name, 'b');
  const arr = JSON.stringify([{ kind: 'Namespace', metadata: { name: 'x' } }, { kind: 'Pod', metadata: { name: 'p', namespace: 'x' }, status: { phase: 'Running', podIP: '10.1.0.1' } }]);
  const pa = parseSnapshot(arr, 'f.json');
  assert.deepEqual(pa.namespaces, [{ name: 'x' }]);
  assert.deepEqual(pa.pods, [{ namespace: 'x', name: 'p', ips: ['10.1.0.1'], running: true }]);
  const docs = `kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {type: ExternalName, externalName: Example.Org}
---
kind: EndpointSliceList
items:
- metadata: {name: s-1, namespace: a, labels: {kubernetes.io/service-name: s}}
  addressType: IPv4
  endpoints: [{addresses: [10.0.0.1]}]
- metadata: {name: orphan, namespace: a}
  addressType: IPv4
---
`;
  const pd = parseSnapshot(docs, 'f.yaml');
  assert.deepEqual(pd.namespaces, [{ name: 'a' }]);
  assert.equal(pd.services[0]!.namespace, 'default', 'no namespace: default, as kubectl apply');
  assert.equal(pd.services[0]!.externalName, 'example.org.');
  assert.equal(pd.endpointSlices.length, 1);
  assert.equal(pd.skipped, 1, 'the slice without a service label');
  assert.equal(parseSnapshot('apiVersion: v1\nkind: List\nitems: []\n', 'f').services.length, 0);
});

test('broken snapshots: SNAPSHOT_INVALID with file and line', async (t) => {
  const cases: Array<{ name: string; text: string; line: number; msg: RegExp }> = [
    { name: 'YAML syntax', text: 'kind: List\nitems:\n- kind: Service\n  metadata: name: x\n  spec: {}\n', line: 4, msg: /snapshot: Nested mappings are not allowed in compact mappings at line 4, column 13$/ },
    { name: 'item without kind (YAML)', text: 'kind: List\nitems:\n- kind: Namespace\n  metadata: {name: a}\n- metadata: {name: b}\n', line: 5, msg: /item 1 has no kind/ },
    { name: 'item without kind (JSON, line found by the YAML parser)', text: '{"kind": "List",\n "items": [\n  {"kind": "Namespace", "metadata": {"name": "a"}},\n  {"metadata": {"name": "b"}}\n]}\n', line: 4, msg: /item 1 has no kind/ },
    { name: 'a Service without a name', text: 'kind: Service\nmetadata: {namespace: a}\n', line: 1, msg: /has no metadata.name/ },
    { name: 'a scalar', text: 'hello\n', line: 1, msg: /expected a Kubernetes object/ },
    { name: 'empty', text: '  \n', line: 0, msg: /empty/ },
    { name: 'only separators', text: '---\n---\n', line: 0, msg: /no objects/ },
    { name: 'truncated JSON', text: '{"kind": "List", "items": [\n', line: 2, msg: /snapshot: / },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.throws(() => parseSnapshot(c.text, 'snap.yaml'), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, ErrorCodes.SNAPSHOT_INVALID);
        assert.equal(err.file, 'snap.yaml');
        assert.match(err.message, c.msg);
        if (c.line) assert.equal(err.line, c.line, err.message);
        return true;
      });
    });
  }
  assert.throws(() => loadSnapshot('/nonexistent/snap.yaml'), /snap.yaml:0 - snapshot: cannot read the file: ENOENT/);
});

class Recorder implements ObjectSink {
  ops: string[] = [];
  upsertService(s: { namespace: string; name: string; clusterIPs: string[] }): void { this.ops.push(`+svc ${s.namespace}/${s.name} ${s.clusterIPs.join(',')}`); }
  deleteService(ns: string, name: string): void { this.ops.push(`-svc ${ns}/${name}`); }
  upsertEndpointSlice(e: { namespace: string; name: string }): void { this.ops.push(`+eps ${e.namespace}/${e.name}`); }
  deleteEndpointSlice(ns: string, name: string): void { this.ops.push(`-eps ${ns}/${name}`); }
  upsertNamespace(n: { name: string }): void { this.ops.push(`+ns ${n.name}`); }
  deleteNamespace(name: string): void { this.ops.push(`-ns ${name}`); }
  upsertPod(p: { namespace: string; name: string }): void { this.ops.push(`+pod ${p.namespace}/${p.name}`); }
  deletePod(ns: string, name: string): void { this.ops.push(`-pod ${ns}/${name}`); }
}

const waitFor = async (pred: () => boolean, ms = 3000): Promise<void> => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('watchSnapshotFile delivers the file, then only the difference on change; a broken file keeps the last good state', { timeout: 15_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snap-'));
  const file = path.join(dir, 'cluster.yaml');
  const svc = (name: string, ip: string) => `- kind: Service\n  metadata: {name: ${name}, namespace: a}\n  spec: {clusterIP: ${ip}}\n`;
  fs.writeFileSync(file, `kind: List\nitems:\n- kind: Namespace\n  metadata: {name: a}\n${svc('one', '10.0.0.1')}${svc('two', '10.0.0.2')}`);
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({
    write(c: Buffer, _e, cb): void {
      for (const l of c.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }));
  const sink = new Recorder();
  const w = watchSnapshotFile(file, sink, logger, { intervalMs: 50 });
  try {
    assert.equal(w.ready(), true);
    await w.whenReady();
    assert.deepEqual(sink.ops, ['+ns a', '+svc a/one 10.0.0.1', '+svc a/two 10.0.0.2']);
    sink.ops = [];
    fs.writeFileSync(file, `kind: List\nitems:\n- kind: Namespace\n  metadata: {name: a}\n${svc('one', '10.0.0.1')}${svc('three', '10.0.0.3')}${svc('two', '10.0.0.22')}`);
    await waitFor(() => sink.ops.length >= 2);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(sink.ops.sort(), ['+svc a/three 10.0.0.3', '+svc a/two 10.0.0.22'], 'changed and new only');
    sink.ops = [];
    fs.writeFileSync(file, 'kind: List\nitems:\n- kind: Service\n  metadata: name: oops\n');
    await waitFor(() => logs.some((l) => l.level === 50));
    const err = logs.find((l) => l.level === 50)!;
    assert.equal(err.code, ErrorCodes.SNAPSHOT_INVALID);
    assert.equal(err.file, file);
    assert.equal(err.line, 4);
    assert.match(String(err.msg), /keeping the last good state/);
    assert.deepEqual(sink.ops, []);
    fs.writeFileSync(file, `kind: List\nitems:\n- kind: Namespace\n  metadata: {name: a}\n${svc('one', '10.0.0.1')}`);
    await waitFor(() => sink.ops.length >= 2);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(sink.ops.sort(), ['-svc a/three', '-svc a/two'], 'after the broken file, the diff is against the last good state');
    w.stop();
    sink.ops = [];
    fs.writeFileSync(file, 'kind: List\nitems: []\n');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(sink.ops, [], 'nothing after stop');
  } finally {
    w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('watchSnapshotFile on a file that is missing at first becomes ready when it appears', { timeout: 10_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snap-'));
  const file = path.join(dir, 'later.json');
  const sink = new Recorder();
  const w = watchSnapshotFile(file, sink, pino({ level: 'silent' }), { intervalMs: 50 });
  try {
    assert.equal(w.ready(), false);
    const ready = w.whenReady();
    fs.writeFileSync(file, JSON.stringify([{ kind: 'Namespace', metadata: { name: 'z' } }]));
    await Promise.race([ready, new Promise((_, reject) => setTimeout(() => reject(new Error('not ready after 5 s')), 5000))]);
    assert.deepEqual(sink.ops, ['+ns z']);
  } finally {
    w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
