/**
 * `clusterdns explain` and GET /explain: for each kind of answer, the reason and the objects behind it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ExplainResult } from '../src/explain/explain.js';
import { freePort } from './support/ports.js';
import { CLI, startServer, type ServerProcess } from './support/server-process.js';

const cluster = `apiVersion: v1
kind: List
items:
- { apiVersion: v1, kind: Namespace, metadata: { name: demo } }
- { apiVersion: v1, kind: Namespace, metadata: { name: other } }
- apiVersion: v1
  kind: Service
  metadata: { name: web, namespace: demo }
  spec: { type: ClusterIP, clusterIP: 10.96.0.20, clusterIPs: [10.96.0.20], ports: [{ name: http, port: 80, protocol: TCP }, { port: 81, protocol: TCP }] }
- apiVersion: v1
  kind: Service
  metadata: { name: web, namespace: other }
  spec: { type: ClusterIP, clusterIP: 10.96.0.21, clusterIPs: [10.96.0.21], ports: [{ name: http, port: 80, protocol: TCP }] }
- apiVersion: v1
  kind: Service
  metadata: { name: db, namespace: demo }
  spec: { clusterIP: None, clusterIPs: [None], ports: [{ name: pg, port: 5432, protocol: TCP }] }
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: { name: db-1, namespace: demo, labels: { kubernetes.io/service-name: db } }
  addressType: IPv4
  ports: [{ name: pg, port: 5432, protocol: TCP }]
  endpoints:
  - { addresses: [10.244.0.5], conditions: { ready: false } }
  - { addresses: [10.244.0.6], conditions: { ready: false, serving: true, terminating: true } }
- apiVersion: v1
  kind: Service
  metadata: { name: cache, namespace: demo }
  spec: { clusterIP: None, clusterIPs: [None] }
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: { name: cache-1, namespace: demo, labels: { kubernetes.io/service-name: cache } }
  addressType: IPv4
  endpoints:
  - { addresses: [10.244.0.9], hostname: cache-0, conditions: { ready: true } }
`;

let dir: string;
let snapshot: string;

function explainCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'explain', ...args], { cwd: dir, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
    });
  });
}

async function explainJson(args: string[]): Promise<ExplainResult> {
  const r = await explainCli([...args, '--json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as ExplainResult;
}

function corefile(name: string, body: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  return p;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-explain-'));
  snapshot = path.join(dir, 'cluster.yaml');
  fs.writeFileSync(snapshot, cluster);
});

describe('clusterdns explain', () => {
  it('names the Service behind a ClusterIP answer, in text and JSON', async () => {
    const text = await explainCli(['web.demo.svc.cluster.local', '--snapshot', snapshot]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /web\.demo\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.96\.0\.20\s+; from Service demo\/web/);
    const j = await explainJson(['web.demo.svc.cluster.local', 'A', '--snapshot', snapshot]);
    assert.equal(j.rcode, 'NOERROR');
    assert.equal(j.answeredBy, 'kubernetes');
    assert.equal(j.kubernetes?.reason, 'answer');
    assert.deepEqual(j.answer[0]?.from, [{ kind: 'Service', namespace: 'demo', name: 'web' }]);
  });

  it('names the EndpointSlice behind each headless record', async () => {
    const j = await explainJson(['cache.demo.svc.cluster.local', '--snapshot', snapshot]);
    assert.equal(j.answer.length, 1);
    assert.deepEqual(j.answer[0]?.from, [{ kind: 'Service', namespace: 'demo', name: 'cache' }, { kind: 'EndpointSlice', namespace: 'demo', name: 'cache-1' }]);
  });

  const negatives: Array<{ name: string; type?: string; reason: string; why: RegExp; conf?: string }> = [
    { name: 'web.nons.svc.cluster.local', reason: 'namespace-missing', why: /namespace "nons" does not exist/ },
    { name: 'nope.demo.svc.cluster.local', reason: 'service-missing', why: /no Service "nope" in namespace "demo"/ },
    { name: 'db.demo.svc.cluster.local', reason: 'headless-not-ready', why: /none is ready \(1 not ready, 1 terminating\)/ },
    { name: '_grpc._tcp.web.demo.svc.cluster.local', type: 'SRV', reason: 'port-missing', why: /no port named "grpc" with protocol "tcp" \(its ports: http\/tcp, \(unnamed 81\/tcp\)/ },
    { name: 'web.demo.svc.cluster.local', type: 'AAAA', reason: 'no-data', why: /has no AAAA records \(NODATA\)/ },
  ];
  for (const c of negatives) {
    it(`says why: ${c.reason}`, async () => {
      const j = await explainJson([c.name, ...(c.type ? [c.type] : []), '--snapshot', snapshot]);
      assert.equal(j.kubernetes?.reason, c.reason);
      assert.ok(j.authority.some((rr) => /\tSOA\t/.test(rr)), 'SOA in authority');
      assert.match(j.why.join('\n'), c.why);
    });
  }

  it('says when a namespace is filtered by the namespaces option, and when pods are disabled', async () => {
    const conf = corefile('Corefile.ns', `.:53 {\n    kubernetes cluster.local {\n        snapshot ${snapshot}\n        namespaces demo\n    }\n}\n`);
    const filtered = await explainJson(['web.other.svc.cluster.local', '-conf', conf]);
    assert.equal(filtered.rcode, 'NXDOMAIN');
    assert.equal(filtered.kubernetes?.reason, 'namespace-filtered');
    assert.match(filtered.why.join('\n'), /not in the kubernetes plugin's `namespaces` option \(demo\)/);
    const pods = await explainJson(['10-244-0-9.demo.pod.cluster.local', '-conf', conf]);
    assert.equal(pods.kubernetes?.reason, 'pods-disabled');
    assert.match(pods.why.join('\n'), /pods disabled/);
  });

  it('says where a name outside the kubernetes zones is forwarded', async () => {
    const upstream = await freePort();
    const conf = corefile('Corefile.fwd', `.:53 {\n    kubernetes cluster.local {\n        snapshot ${snapshot}\n    }\n    forward . 127.0.0.1:${upstream}\n}\n`);
    const j = await explainJson(['www.example.com', '-conf', conf]);
    assert.equal(j.kubernetes, undefined);
    assert.match(j.why.join('\n'), /outside the kubernetes plugin's zones \(cluster\.local\.\)/);
    assert.match(j.why.join('\n'), new RegExp(`forward plugin sends it upstream to 127\\.0\\.0\\.1:${upstream}`));
  });

  it('says when a name is outside every server block', async () => {
    const conf = corefile('Corefile.zone', `cluster.local:53 {\n    kubernetes {\n        snapshot ${snapshot}\n    }\n}\n`);
    const j = await explainJson(['www.example.com', '-conf', conf]);
    assert.equal(j.rcode, 'REFUSED');
    assert.equal(j.serverBlock, null);
    assert.match(j.why.join('\n'), /outside every server block/);
  });

  it('rejects bad arguments with usage', async () => {
    const r = await explainCli(['web.demo.svc.cluster.local', 'NOTATYPE', '--snapshot', snapshot]);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown type "NOTATYPE"/);
  });
});

describe('GET /explain', () => {
  let srv: ServerProcess;
  let readyPort: number;
  before(async () => {
    readyPort = await freePort();
    const dnsPort = await freePort();
    srv = await startServer(`.:${dnsPort} {\n    ready 127.0.0.1:${readyPort}\n    kubernetes cluster.local {\n        snapshot ${snapshot}\n    }\n}\n`);
  });
  after(async () => {
    await srv.stop();
  });

  it('explains over HTTP on the ready address', async () => {
    const res = await fetch(`http://127.0.0.1:${readyPort}/explain?name=db.demo.svc.cluster.local&type=A`);
    assert.equal(res.status, 200);
    const j = (await res.json()) as ExplainResult;
    assert.equal(j.rcode, 'NXDOMAIN');
    assert.equal(j.kubernetes?.reason, 'headless-not-ready');
    assert.deepEqual(j.kubernetes?.sources.map((s) => `${s.kind}/${s.name}`).sort(), ['EndpointSlice/db-1', 'Service/db']);
    const bad = await fetch(`http://127.0.0.1:${readyPort}/explain`);
    assert.equal(bad.status, 400);
  });
});
