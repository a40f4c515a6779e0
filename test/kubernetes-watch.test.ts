/**
 * startWatch against the Kubernetes API test double: list, watch, and recovery from every fault the
 * double can inject. The sink records what it is told; state is what a record store would hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi, type KubeObject } from './support/fake-kube-api.js';
import { buildKubeConfig } from '../src/kubernetes/watch/kube-client.js';
import { startWatch, type WatchHandle, type WatchOp, type WatchOptions } from '../src/kubernetes/watch/informers.js';
import type {
  ObjectKind, ObjectSink, SlimEndpointSlice, SlimNamespace, SlimPod, SlimService,
} from '../src/kubernetes/objects.js';

class RecordingSink implements ObjectSink {
  services = new Map<string, SlimService>();
  slices = new Map<string, SlimEndpointSlice>();
  namespaces = new Map<string, SlimNamespace>();
  pods = new Map<string, SlimPod>();
  log: Array<{ op: 'upsert' | 'delete'; kind: ObjectKind; key: string; at: number }> = [];
  private rec(op: 'upsert' | 'delete', kind: ObjectKind, key: string): void {
    this.log.push({ op, kind, key, at: Date.now() });
  }
  upsertService(s: SlimService): void { this.services.set(`${s.namespace}/${s.name}`, s); this.rec('upsert', 'Service', `${s.namespace}/${s.name}`); }
  deleteService(ns: string, name: string): void { this.services.delete(`${ns}/${name}`); this.rec('delete', 'Service', `${ns}/${name}`); }
  upsertEndpointSlice(e: SlimEndpointSlice): void { this.slices.set(`${e.namespace}/${e.name}`, e); this.rec('upsert', 'EndpointSlice', `${e.namespace}/${e.name}`); }
  deleteEndpointSlice(ns: string, name: string): void { this.slices.delete(`${ns}/${name}`); this.rec('delete', 'EndpointSlice', `${ns}/${name}`); }
  upsertNamespace(n: SlimNamespace): void { this.namespaces.set(n.name, n); this.rec('upsert', 'Namespace', n.name); }
  deleteNamespace(name: string): void { this.namespaces.delete(name); this.rec('delete', 'Namespace', name); }
  upsertPod(p: SlimPod): void { this.pods.set(`${p.namespace}/${p.name}`, p); this.rec('upsert', 'Pod', `${p.namespace}/${p.name}`); }
  deletePod(ns: string, name: string): void { this.pods.delete(`${ns}/${name}`); this.rec('delete', 'Pod', `${ns}/${name}`); }
  /** Everything it holds, for comparisons. */
  state(): string {
    const dump = (m: Map<string, unknown>): unknown[] => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
    return JSON.stringify({ s: dump(this.services), e: dump(this.slices), n: dump(this.namespaces), p: dump(this.pods) });
  }
}

// ---- fixtures ----

const ns = (name: string, labels?: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(labels && { labels }) } });
const svc = (namespace: string, name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { namespace, name, ...(labels && { labels }) },
  spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
});
const slice = (namespace: string, service: string, name: string, ips: string[], extra: { ready?: boolean; trigger?: string } = {}): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
  metadata: {
    namespace, name, labels: { 'kubernetes.io/service-name': service },
    ...(extra.trigger && { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': extra.trigger } }),
  },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip, i) => ({
    addresses: [ip], conditions: extra.ready === undefined ? {} : { ready: extra.ready },
    targetRef: { kind: 'Pod', name: `${service}-${i}`, namespace },
  })),
});
const pod = (namespace: string, name: string, ip: string, phase = 'Running'): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name },
  spec: { nodeName: 'node-1' }, status: { phase, podIP: ip, podIPs: [{ ip }] },
});

const baseline = (): KubeObject[] => [
  ns('default'), ns('prod'),
  svc('default', 'web', { clusterIP: '10.96.0.10' }),
  svc('prod', 'db', { clusterIP: 'None' }),
  svc('prod', 'ext', { type: 'ExternalName', externalName: 'DB.Example.COM' }),
  slice('default', 'web', 'web-abc', ['10.1.0.1', '10.1.0.2']),
  slice('prod', 'db', 'db-xyz', ['10.1.1.1'], { ready: false }),
];

// ---- a front for the API double ----

interface FrontOptions {
  /** Answers instead of the API when it returns a Status (code, reason, message). */
  intercept?(url: URL): { code: number; reason: string; message: string } | undefined;
  /** Re-chunks every response body: what arrived is written out every few ms in pieces of 1..N bytes. */
  rechunk?: number;
}

interface Front {
  url: string;
  close(): Promise<void>;
}

/** A proxy in front of the API double: answers for it (intercept) or cuts its bodies up differently (rechunk). */
async function startFront(api: FakeKubeApi, o: FrontOptions): Promise<Front> {
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://front');
    const st = o.intercept?.(url);
    if (st) {
      res.writeHead(st.code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...st }));
      return;
    }
    const up = http.request(api.url + (req.url ?? '/'), { method: req.method, headers: req.headers }, (r) => {
      const headers = { ...r.headers };
      delete headers['content-length'];
      res.writeHead(r.statusCode ?? 502, headers);
      if (!o.rechunk) {
        r.pipe(res);
        return;
      }
      let pending: Buffer[] = [];
      const max = o.rechunk;
      const flush = (): void => {
        const all = Buffer.concat(pending);
        pending = [];
        for (let at = 0; at < all.length; ) {
          const n = 1 + Math.floor(random() * max);
          res.write(all.subarray(at, at + n));
          at += n;
        }
      };
      const timer = setInterval(flush, 5);
      r.on('data', (c: Buffer) => pending.push(c));
      r.on('end', () => {
        clearInterval(timer);
        flush();
        res.end();
      });
      r.on('close', () => clearInterval(timer));
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---- harness ----

interface Harness {
  api: FakeKubeApi;
  sink: RecordingSink;
  watch: WatchHandle;
  errors: Array<{ kind: ObjectKind; err: Error }>;
  events: Array<{ kind: ObjectKind; op: WatchOp; lagMs: number | undefined }>;
  logs: Array<{ level: number; msg: string; kind?: string }>;
  dir: string;
  close(): Promise<void>;
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 1000): Promise<number> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - t0;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function harness(opts: {
  objects?: KubeObject[];
  watch?: Partial<WatchOptions>;
  beforeStart?(api: FakeKubeApi): void;
  waitSync?: boolean;
  /** Connect with `endpoint URL` instead of a kubeconfig file. */
  endpoint?: boolean;
  /** Reach the API through this front (a proxy that can re-chunk or answer for the API). */
  front?: FrontOptions;
} = {}): Promise<Harness> {
  const api = await startFakeKubeApi({ objects: opts.objects ?? baseline(), bookmarkMs: 200 });
  opts.beforeStart?.(api);
  const front = opts.front ? await startFront(api, opts.front) : undefined;
  const url = front?.url ?? api.url;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-watch-'));
  const kubeConfig = opts.endpoint
    ? buildKubeConfig({ mode: 'endpoint', url })
    : buildKubeConfig({ mode: 'kubeconfig', file: writeKubeconfig(dir, url) });
  const logs: Harness['logs'] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Harness['logs'][number]);
      cb();
    },
  });
  const sink = new RecordingSink();
  const errors: Harness['errors'] = [];
  const events: Harness['events'] = [];
  const watch = startWatch({
    kubeConfig,
    sink,
    watchPods: true,
    logger: pino({ level: 'debug' }, stream),
    onError: (kind, err) => errors.push({ kind, err }),
    onEvent: (kind, op, lagMs) => events.push({ kind, op, lagMs }),
    requestTimeoutMs: 1000,
    idleTimeoutMs: 1500,
    backoffInitialMs: 100,
    backoffMaxMs: 800,
    ...opts.watch,
  });
  const h: Harness = {
    api, sink, watch, errors, events, logs, dir,
    async close() {
      await watch.stop();
      await front?.close();
      await api.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.waitSync !== false) {
    try {
      await synced(h, 3000);
    } catch (err) {
      await h.close();
      throw err;
    }
  }
  return h;
}

/** whenSynced with a deadline, so that a failing test still reaches its cleanup. */
async function synced(h: Pick<Harness, 'watch'>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    h.watch.whenSynced(),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no sync in ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

const requestsAfter = (api: FakeKubeApi, t: number) => api.stats().requests.filter((r) => r.at >= t);

// ---- tests ----

test('initial list: every kind delivered in slim form before hasSynced; terminated pods filtered by the server', { timeout: 20_000 }, async () => {
  const h = await harness({
    objects: [...baseline(), pod('default', 'web-0', '10.1.0.1'), pod('default', 'job-1', '10.1.0.9', 'Succeeded'), pod('default', 'pending', '10.1.0.8', 'Pending')],
    waitSync: false,
  });
  try {
    assert.equal(h.watch.hasSynced(), false);
    await synced(h, 3000);
    assert.equal(h.watch.hasSynced(), true);
    assert.deepEqual([...h.sink.namespaces.keys()].sort(), ['default', 'prod']);
    assert.deepEqual(h.sink.services.get('default/web'), {
      namespace: 'default', name: 'web', type: 'ClusterIP', clusterIPs: ['10.96.0.10'], headless: false,
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }], publishNotReadyAddresses: false,
    });
    assert.equal(h.sink.services.get('prod/db')!.headless, true);
    assert.deepEqual(h.sink.services.get('prod/db')!.clusterIPs, []);
    assert.equal(h.sink.services.get('prod/ext')!.externalName, 'db.example.com.');
    const web = h.sink.slices.get('default/web-abc')!;
    assert.equal(web.serviceName, 'web');
    assert.deepEqual(web.endpoints.map((e) => [e.addresses[0], e.ready, e.serving, e.terminating, e.podName]), [
      ['10.1.0.1', true, true, false, 'web-0'], ['10.1.0.2', true, true, false, 'web-1'],
    ]);
    assert.equal(h.sink.slices.get('prod/db-xyz')!.endpoints[0]!.ready, false);
    assert.deepEqual([...h.sink.pods.keys()].sort(), ['default/pending', 'default/web-0']);
    assert.equal(h.sink.pods.get('default/pending')!.running, false);
    const lists = h.api.stats().requests.filter((r) => r.verb === 'list');
    assert.deepEqual(lists.map((r) => r.resource).sort(), ['endpointslices', 'namespaces', 'pods', 'services']);
    assert.ok(lists.every((r) => r.limit === 500));
    assert.equal(lists.find((r) => r.resource === 'pods')!.fieldSelector, 'status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown');
    assert.ok(h.events.every((e) => e.op === 'add' && e.lagMs === undefined), 'list deliveries carry no lag');
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

test('add, update and delete each reach the sink within 1 s; slice lag measured from the trigger time', { timeout: 20_000 }, async () => {
  const h = await harness();
  try {
    await h.api.waitForWatches(4);
    h.api.apply(svc('default', 'api', { clusterIP: '10.96.0.20' }));
    const tAdd = await waitFor('added service', () => h.sink.services.has('default/api'));
    h.api.apply(svc('default', 'api', { clusterIP: '10.96.0.20', publishNotReadyAddresses: true }));
    const tUpd = await waitFor('updated service', () => h.sink.services.get('default/api')?.publishNotReadyAddresses === true);
    h.api.remove('Service', 'default', 'api');
    const tDel = await waitFor('deleted service', () => !h.sink.services.has('default/api'));
    const trigger = new Date(Date.now() - 2000).toISOString();
    h.api.apply(slice('default', 'web', 'web-abc', ['10.1.0.3'], { trigger }));
    await waitFor('updated slice', () => h.sink.slices.get('default/web-abc')?.endpoints[0]?.addresses[0] === '10.1.0.3');
    const ev = h.events.filter((e) => e.kind === 'EndpointSlice' && e.op === 'update').at(-1)!;
    assert.ok(ev.lagMs !== undefined && ev.lagMs >= 2000 && ev.lagMs < 3000, `lag ${ev.lagMs}`);
    // A slice that loses its service label leaves the sink.
    const unlabelled = slice('default', 'web', 'web-abc', ['10.1.0.3']);
    unlabelled.metadata.labels = {};
    h.api.apply(unlabelled);
    await waitFor('slice without label deleted', () => !h.sink.slices.has('default/web-abc'));
    // A pod that terminates is a DELETED for a watch with the phase selector.
    h.api.apply(pod('prod', 'batch', '10.1.1.5'));
    await waitFor('pod added', () => h.sink.pods.get('prod/batch')?.running === true);
    h.api.apply(pod('prod', 'batch', '10.1.1.5', 'Succeeded'));
    await waitFor('terminated pod deleted', () => !h.sink.pods.has('prod/batch'));
    for (const [what, ms] of [['add', tAdd], ['update', tUpd], ['delete', tDel]] as const) assert.ok(ms < 1000, `${what} took ${ms} ms`);
    assert.deepEqual(h.errors, []);
  } finally {
    await h.close();
  }
});

test('selectors and namespaces: label selector on objects, namespace label selector on namespaces, namespaces filter', { timeout: 20_000 }, async () => {
  const h = await harness({
    objects: [
      ns('a', { team: 'x' }), ns('b'), ns('c', { team: 'x' }),
      svc('a', 'in', {}, { dns: 'yes' }), svc('a', 'out', {}), svc('b', 'in', {}, { dns: 'yes' }), svc('c', 'in', {}, { dns: 'yes' }),
    ],
    watch: { labelSelector: 'dns=yes', namespaceLabelSelector: 'team=x', namespaces: ['a', 'b'], watchPods: false },
    endpoint: true,
  });
  try {
    assert.deepEqual([...h.sink.namespaces.keys()], ['a']);
    assert.deepEqual([...h.sink.services.keys()].sort(), ['a/in', 'b/in']);
    h.api.apply(svc('c', 'late', {}, { dns: 'yes' }));
    h.api.apply(svc('a', 'out', {}, { dns: 'yes' })); // enters the selector
    await waitFor('service entering the selector', () => h.sink.services.has('a/out'));
    h.api.apply(svc('a', 'in', {}, { dns: 'no' })); // leaves it
    await waitFor('service leaving the selector', () => !h.sink.services.has('a/in'));
    assert.equal(h.sink.services.has('c/late'), false);
    const watches = h.api.stats().requests.filter((r) => r.verb === 'watch');
    assert.equal(watches.find((r) => r.resource === 'services')!.labelSelector, 'dns=yes');
    assert.equal(watches.find((r) => r.resource === 'namespaces')!.labelSelector, 'team=x');
    assert.equal(watches.some((r) => r.resource === 'pods'), false);
  } finally {
    await h.close();
  }
});

test('a dropped watch resumes from the last RV without a relist', { timeout: 20_000 }, async () => {
  const h = await harness();
  try {
    await h.api.waitForWatches(4);
    h.api.apply(svc('default', 'before-drop'));
    await waitFor('change before the drop', () => h.sink.services.has('default/before-drop'));
    await sleep(450); // two bookmarks: every watch has seen the current RV
    const rv = String(h.api.resourceVersion());
    const listsBefore = h.api.stats().lists;
    const t = Date.now();
    h.api.dropWatches();
    h.api.apply(svc('default', 'while-dropped'));
    await waitFor('change made while the watch was down', () => h.sink.services.has('default/while-dropped'), 2000);
    await h.api.waitForWatches(4);
    const after = requestsAfter(h.api, t);
    assert.deepEqual(after.filter((r) => r.verb === 'list'), [], 'no relist');
    assert.deepEqual(h.api.stats().lists, listsBefore);
    const resumed = after.filter((r) => r.verb === 'watch');
    assert.deepEqual(resumed.map((r) => r.resource).sort(), ['endpointslices', 'namespaces', 'pods', 'services']);
    for (const r of resumed) assert.equal(r.resourceVersion, rv, `${r.resource} resumed from ${r.resourceVersion}, want ${rv}`);
    assert.equal(h.sink.log.filter((l) => l.op === 'delete').length, 0);
    assert.ok(h.errors.length >= 4, 'each dropped watch is an error');
  } finally {
    await h.close();
  }
});

test('a compacted history (410) makes it relist: what vanished is deleted, what appeared is added, the rest untouched', { timeout: 20_000 }, async () => {
  const h = await harness();
  try {
    await h.api.waitForWatches(4);
    // Keep the watch away: its reconnects fail while the cluster changes and the history is compacted.
    h.api.injectFailure({ status: 503, count: Infinity, verbs: ['watch'] });
    const tFail = Date.now();
    h.api.dropWatches();
    await sleep(1500);
    const retries = requestsAfter(h.api, tFail).filter((r) => r.verb === 'watch');
    for (const res of ['namespaces', 'services', 'endpointslices', 'pods']) {
      const n = retries.filter((r) => r.resource === res).length;
      assert.ok(n >= 2 && n <= 10, `${n} ${res} watch retries in 1.5 s: backoff (100 ms doubling to 800 ms)`);
    }
    h.api.remove('Service', 'prod', 'db');
    h.api.remove('EndpointSlice', 'prod', 'db-xyz');
    h.api.remove('Namespace', '', 'prod');
    h.api.apply([ns('new'), svc('new', 'api', { clusterIP: '10.96.0.30' }), slice('new', 'api', 'api-1', ['10.2.0.1'])]);
    h.api.apply(svc('default', 'web', { clusterIP: '10.96.0.10', publishNotReadyAddresses: true }));
    h.api.compact();
    const logMark = h.sink.log.length;
    const t = Date.now();
    h.api.clearFailures();
    await waitFor('relist converged', () => h.sink.services.has('new/api') && !h.sink.services.has('prod/db')
      && h.sink.services.get('default/web')?.publishNotReadyAddresses === true
      && !h.sink.slices.has('prod/db-xyz') && h.sink.slices.has('new/api-1')
      && !h.sink.namespaces.has('prod') && h.sink.namespaces.has('new'), 3000);
    await h.api.waitForWatches(4); // Pods, unchanged, may still be in backoff
    const after = requestsAfter(h.api, t);
    const watches410 = after.filter((r) => r.verb === 'watch' && r.resourceVersion !== undefined && Number(r.resourceVersion) < h.api.stats().oldestResumableResourceVersion);
    assert.ok(watches410.length >= 4, 'resumed with the old RV first');
    assert.deepEqual(after.filter((r) => r.verb === 'list').map((r) => r.resource).sort(), ['endpointslices', 'namespaces', 'pods', 'services']);
    const changes = h.sink.log.slice(logMark).map((l) => `${l.op} ${l.kind} ${l.key}`).sort();
    assert.deepEqual(changes, [
      'delete EndpointSlice prod/db-xyz', 'delete Namespace prod', 'delete Service prod/db',
      'upsert EndpointSlice new/api-1', 'upsert Namespace new', 'upsert Service default/web', 'upsert Service new/api',
    ], 'the relist delivers exactly the difference');
  } finally {
    await h.close();
  }
});

test('a 5 s outage: the sink keeps its state, errors are counted but logged sparingly, and it converges after', { timeout: 20_000 }, async () => {
  const h = await harness();
  try {
    await h.api.waitForWatches(4);
    const before = h.sink.state();
    const logMark = h.logs.length;
    const outage = h.api.setOutage(5000);
    await sleep(300);
    h.api.apply(svc('default', 'during-outage'));
    h.api.remove('Service', 'prod', 'ext');
    h.api.apply(slice('default', 'web', 'web-abc', ['10.1.0.7']));
    await sleep(2500);
    assert.equal(h.sink.state(), before, 'nothing dropped or changed while the API server is unreachable');
    assert.equal(h.watch.hasSynced(), true);
    await outage;
    const t = Date.now();
    await waitFor('convergence after the outage', () => h.sink.services.has('default/during-outage') && !h.sink.services.has('prod/ext')
      && h.sink.slices.get('default/web-abc')?.endpoints[0]?.addresses[0] === '10.1.0.7', 3000);
    const converged = Date.now() - t;
    assert.ok(converged < 2000, `converged ${converged} ms after the outage`);
    const failures = h.errors.length;
    assert.ok(failures >= 4 * 4, `${failures} failures counted`);
    const warns = h.logs.slice(logMark).filter((l) => l.level === 40);
    assert.ok(warns.length <= 4, `${warns.length} warn lines for ${failures} failures`);
    assert.deepEqual(new Set(warns.map((l) => l.kind)).size, warns.length, 'one per kind');
    assert.ok(h.logs.slice(logMark).some((l) => l.level === 30 && /recovered/.test(l.msg)));
    await h.api.waitForWatches(4);
  } finally {
    await h.close();
  }
});

test('a server that stops answering is detected (silent watch, request timeout) and recovered from when it un-hangs', { timeout: 20_000 }, async () => {
  const h = await harness();
  try {
    await h.api.waitForWatches(4);
    h.api.hang(true);
    h.api.apply(svc('default', 'during-hang'));
    await sleep(2500); // past idleTimeoutMs (1.5 s): the frozen watches are given up, their retries time out
    assert.equal(h.sink.services.has('default/during-hang'), false, 'a frozen watch cannot deliver');
    assert.ok(h.errors.some((e) => /silent/.test(e.err.message)), 'the watchdog fired');
    assert.ok(h.api.stats().heldRequests <= 4, 'held requests are given up, not piled up');
    await sleep(800);
    assert.ok(h.errors.some((e) => /timeout/.test(e.err.message)), 'a request without headers timed out');
    h.api.hang(false);
    const t = Date.now();
    await waitFor('the change made during the hang', () => h.sink.services.has('default/during-hang'), 3000);
    const recovered = Date.now() - t;
    assert.ok(recovered < 2500, `recovered ${recovered} ms after un-hang`);
    await h.api.waitForWatches(4);
    assert.equal(h.sink.log.filter((l) => l.op === 'delete').length, 0);
  } finally {
    await h.close();
  }
});

test('a list that hangs at startup times out and is retried; stop() ends a pending request at once', { timeout: 20_000 }, async () => {
  const h = await harness({ beforeStart: (api) => api.hang(true), waitSync: false });
  try {
    await sleep(1300);
    assert.equal(h.watch.hasSynced(), false);
    assert.ok(h.errors.length >= 4 && h.errors.every((e) => /no response for 1000 ms/.test(e.err.message)), h.errors.map((e) => e.err.message).join('; '));
    h.api.hang(false);
    await synced(h, 2500);
    assert.equal(h.sink.services.size, 3);

    h.api.hang(true);
    h.api.dropWatches();
    await sleep(300); // reconnects now hang
    const t0 = Date.now();
    await h.watch.stop();
    assert.ok(Date.now() - t0 < 300, `stop took ${Date.now() - t0} ms`);
    const n = h.api.stats().requests.length;
    await sleep(500);
    assert.equal(h.api.stats().requests.length, n, 'no request after stop');
  } finally {
    await h.close();
  }
});

test('500 on list is retried with backoff; a stopped watch rejects whenSynced', { timeout: 20_000 }, async () => {
  const h = await harness({
    beforeStart: (api) => api.injectFailure({ status: 500, count: 2, path: '/services', verbs: ['list'] }),
    waitSync: false,
  });
  try {
    await synced(h, 5000);
    assert.equal(h.api.stats().lists.services, 3);
    assert.equal(h.api.stats().lists.namespaces, 1);
    const errs = h.errors.filter((e) => e.kind === 'Service');
    assert.equal(errs.length, 2);
    assert.match(errs[0]!.err.message, /500 injected failure 500/);
    assert.equal(h.sink.services.size, 3);
    assert.equal(h.logs.filter((l) => l.level === 40).length, 1, 'the second failure within the interval is not logged');
  } finally {
    await h.close();
  }
  const h2 = await harness({ beforeStart: (api) => api.injectFailure({ status: 500, count: Infinity, verbs: ['list'] }), waitSync: false });
  try {
    const synced = h2.watch.whenSynced();
    await sleep(200);
    await h2.watch.stop();
    await assert.rejects(synced, /stopped before the initial sync/);
  } finally {
    await h2.close();
  }
});

test('watch lines cut anywhere: split across chunks, several to a chunk, multi-byte characters split between chunks', { timeout: 20_000 }, async () => {
  const named = (i: number): KubeObject => svc('default', `u-${i}`, { clusterIP: `10.96.1.${i}`, ports: [{ name: `p€-ü-${i}`, port: 80 + i, protocol: 'TCP' }] });
  const h = await harness({ objects: [...baseline(), named(0)], front: { rechunk: 9 }, watch: { watchPods: false } });
  try {
    assert.equal(h.sink.services.get('default/u-0')!.ports[0]!.name, 'p€-ü-0', 'the list, re-chunked');
    await h.api.waitForWatches(3);
    for (let i = 1; i <= 40; i++) h.api.apply(named(i));
    for (let i = 1; i <= 40; i += 3) h.api.remove('Service', 'default', `u-${i}`);
    await waitFor('every change', () => h.sink.services.has('default/u-40') === false && h.sink.services.has('default/u-39'), 3000);
    for (let i = 1; i <= 40; i++) {
      const s = h.sink.services.get(`default/u-${i}`);
      if ((i - 1) % 3 === 0) assert.equal(s, undefined, `u-${i} deleted`);
      else assert.equal(s?.ports[0]?.name, `p€-ü-${i}`, `u-${i} intact`);
    }
    // Bookmarks, re-chunked too: read as such, they neither fail the watch nor make it start over.
    const watches = (): number => h.api.stats().requests.filter((r) => r.verb === 'watch').length;
    const before = watches();
    await sleep(450);
    assert.deepEqual(h.errors, []);
    assert.equal(watches(), before, 'no watch was opened again');
  } finally {
    await h.close();
  }
});

test('a continue token that expires mid-list restarts the list from the first page; expiring again, one unpaged list', { timeout: 20_000 }, async () => {
  const many = Array.from({ length: 10 }, (_, i) => svc('prod', `s-${i}`, { clusterIP: `10.96.2.${i}` }));
  const expired = { code: 410, reason: 'Expired', message: 'The provided continue parameter is too old to display a consistent list result.' };
  for (const times of [1, 2]) {
    let left = times;
    const h = await harness({
      objects: [...baseline(), ...many],
      watch: { pageSize: 3, watchPods: false },
      front: { intercept: (u) => (u.pathname === '/api/v1/services' && u.searchParams.has('continue') && left-- > 0 ? expired : undefined) },
    });
    try {
      assert.equal(h.sink.services.size, 13);
      const lists = h.api.stats().requests.filter((r) => r.verb === 'list' && r.resource === 'services');
      const firstPages = lists.filter((r) => !r.continue);
      if (times === 1) {
        assert.equal(firstPages.length, 2, 'the list started over once');
        assert.ok(lists.every((r) => r.limit === 3), 'paged both times');
        assert.equal(lists.length, 1 + 5, '1 page before the expiry, then 5 pages of 3');
      } else {
        assert.equal(firstPages.length, 3);
        assert.equal(lists.at(-1)!.limit, undefined, 'the last list is unpaged');
        assert.equal(lists.at(-1)!.continue, undefined);
      }
      assert.deepEqual(h.errors, [], 'an expired continue token is not a failure');
      assert.equal(h.events.filter((e) => e.kind === 'Service' && e.op === 'delete').length, 0);
      assert.equal(h.events.filter((e) => e.kind === 'Service' && e.op === 'update').length, 0, 'pages seen twice are not delivered twice');
    } finally {
      await h.close();
    }
  }
});

test('a server that answers 410 to every watch gets lists at the backoff rate, not a tight loop', { timeout: 20_000 }, async () => {
  const gone = { code: 410, reason: 'Expired', message: 'too old resource version' };
  const h = await harness({ watch: { watchPods: false }, front: { intercept: (u) => (u.searchParams.get('watch') === 'true' && u.pathname === '/api/v1/services' ? gone : undefined) } });
  try {
    const t = Date.now();
    await sleep(1500);
    const lists = requestsAfter(h.api, t).filter((r) => r.verb === 'list' && r.resource === 'services').length;
    assert.ok(lists >= 2 && lists <= 10, `${lists} services lists in 1.5 s (backoff 100 ms doubling to 800 ms)`);
    assert.ok(h.errors.some((e) => e.kind === 'Service' && /410 Gone for the resourceVersion the list has just returned/.test(e.err.message)));
    assert.equal(h.watch.hasSynced(), true);
    assert.equal(h.sink.services.size, 3);
    assert.equal(h.sink.log.filter((l) => l.op === 'delete').length, 0);
  } finally {
    await h.close();
  }
});
