/** The Kubernetes API test double, checked with plain fetch. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi, type KubeObject } from './fake-kube-api.js';

const svc = (ns: string, name: string, extra: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { namespace: ns, name, ...(labels && { labels }) },
  spec: { ports: [{ name: 'http', port: 80 }], ...extra },
});

type Ev = { type: string; object: Record<string, any> };

/** Reads a watch response line by line. */
class WatchReader {
  private buf = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  ended = false;
  constructor(readonly res: Response) {
    this.reader = res.body!.getReader();
  }
  /** The next event, or undefined when the stream ended cleanly; rejects on abrupt end or timeout. */
  async next(timeoutMs = 2000): Promise<Ev | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        return JSON.parse(line) as Ev;
      }
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timeout waiting for a watch event');
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error('timeout waiting for a watch event')), left); }),
      ]).finally(() => clearTimeout(timer));
      if (r.done) this.ended = true;
      else this.buf += this.decoder.decode(r.value, { stream: true });
    }
  }
  /** Events until `pred` matches, skipping bookmarks. */
  async until(pred: (e: Ev) => boolean, timeoutMs = 2000): Promise<Ev> {
    for (;;) {
      const e = await this.next(timeoutMs);
      if (!e) throw new Error('stream ended');
      if (pred(e)) return e;
    }
  }
  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}

let api: FakeKubeApi;
const readers: WatchReader[] = [];
before(async () => {
  api = await startFakeKubeApi({ bookmarkMs: 100 });
});
after(async () => {
  for (const r of readers) await r.cancel();
  await api.close();
});

async function getJson(p: string): Promise<{ status: number; body: any }> {
  const res = await fetch(api.url + p);
  return { status: res.status, body: await res.json() };
}
async function watch(p: string): Promise<WatchReader> {
  const res = await fetch(api.url + p);
  assert.equal(res.status, 200);
  const r = new WatchReader(res);
  readers.push(r);
  return r;
}

test('apply defaults services like the apiserver and lists in key order without item typeMeta', async () => {
  const r = api.apply([
    svc('b', 'web'),
    svc('a', 'web', { clusterIP: '10.0.0.10' }),
    svc('a', 'headless', { clusterIP: 'None' }),
    svc('a', 'ext', { type: 'ExternalName', externalName: 'Example.COM' }),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
  ]);
  assert.deepEqual(r.results.map((x) => x.op), ['created', 'created', 'created', 'created', 'created']);
  const { status, body } = await getJson('/api/v1/services');
  assert.equal(status, 200);
  assert.equal(body.kind, 'ServiceList');
  assert.equal(body.apiVersion, 'v1');
  assert.equal(body.metadata.resourceVersion, String(api.resourceVersion()));
  assert.deepEqual(body.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`), ['a/ext', 'a/headless', 'a/web', 'b/web']);
  assert.equal(body.items[0].kind, undefined);
  const [ext, headless, aweb, bweb] = body.items;
  assert.equal(ext.spec.clusterIP, undefined);
  assert.deepEqual(headless.spec.clusterIPs, ['None']);
  assert.deepEqual(aweb.spec.clusterIPs, ['10.0.0.10']);
  assert.match(bweb.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
  assert.deepEqual(bweb.spec.clusterIPs, [bweb.spec.clusterIP]);
  assert.equal(bweb.spec.ports[0].protocol, 'TCP');
  // An update that omits the clusterIP keeps the allocated one; an identical re-apply changes nothing.
  const rv = api.resourceVersion();
  api.apply(svc('b', 'web', { publishNotReadyAddresses: true }));
  assert.equal(api.get('Service', 'b', 'web')!.spec && (api.get('Service', 'b', 'web')!.spec as any).clusterIP, bweb.spec.clusterIP);
  assert.equal(api.resourceVersion(), rv + 1);
  assert.equal(api.apply(svc('b', 'web', { publishNotReadyAddresses: true })).results[0]!.op, 'unchanged');
  assert.equal(api.resourceVersion(), rv + 1);
  const ns = await getJson('/api/v1/namespaces');
  assert.equal(ns.body.kind, 'NamespaceList');
  assert.equal(ns.body.items[0].metadata.labels['kubernetes.io/metadata.name'], 'a');
  assert.equal((await getJson('/api/v1/namespaces/a/services/web')).body.spec.clusterIP, '10.0.0.10');
  assert.equal((await getJson('/api/v1/namespaces/a/services')).body.items.length, 3);
  assert.equal((await getJson('/api/v1/namespaces/a/services/nope')).status, 404);
  assert.equal((await getJson('/api/v1/configmaps')).status, 404);
});

test('pagination serves every page from the first page\'s snapshot; an expired token gets 410', async () => {
  for (let i = 0; i < 5; i++) api.apply(svc('page', `s${i}`));
  const p1 = await getJson('/api/v1/namespaces/page/services?limit=2');
  assert.deepEqual(p1.body.items.map((i: any) => i.metadata.name), ['s0', 's1']);
  assert.equal(p1.body.metadata.remainingItemCount, 3);
  api.remove('Service', 'page', 's3');
  api.apply(svc('page', 's2', { publishNotReadyAddresses: true }));
  const p2 = await getJson(`/api/v1/namespaces/page/services?limit=2&continue=${p1.body.metadata.continue}`);
  assert.deepEqual(p2.body.items.map((i: any) => i.metadata.name), ['s2', 's3']);
  assert.equal(p2.body.items[0].spec.publishNotReadyAddresses, undefined, 'page 2 shows s2 as it was at page 1');
  assert.equal(p2.body.metadata.resourceVersion, p1.body.metadata.resourceVersion);
  const p3 = await getJson(`/api/v1/namespaces/page/services?limit=2&continue=${p2.body.metadata.continue}`);
  assert.deepEqual(p3.body.items.map((i: any) => i.metadata.name), ['s4']);
  assert.equal(p3.body.metadata.continue, undefined);
  const again = await getJson('/api/v1/namespaces/page/services?limit=2');
  api.compact();
  const expired = await getJson(`/api/v1/namespaces/page/services?limit=2&continue=${again.body.metadata.continue}`);
  assert.equal(expired.status, 410);
  assert.equal(expired.body.reason, 'Expired');
});

test('label and field selectors', async () => {
  api.apply([
    svc('sel', 'a', {}, { app: 'x', tier: 'web' }),
    svc('sel', 'b', {}, { app: 'y' }),
    svc('sel', 'c', {}),
  ]);
  const names = async (q: string): Promise<string[]> => {
    const r = await getJson(`/api/v1/namespaces/sel/services?${q}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.items.map((i: any) => i.metadata.name);
  };
  assert.deepEqual(await names('labelSelector=app%3Dx'), ['a']);
  assert.deepEqual(await names('labelSelector=app%3D%3Dx'), ['a']);
  assert.deepEqual(await names('labelSelector=app!%3Dx'), ['b', 'c']);
  assert.deepEqual(await names(`labelSelector=${encodeURIComponent('app in (x, y)')}`), ['a', 'b']);
  assert.deepEqual(await names(`labelSelector=${encodeURIComponent('app notin (x)')}`), ['b', 'c']);
  assert.deepEqual(await names('labelSelector=app'), ['a', 'b']);
  assert.deepEqual(await names('labelSelector=!app'), ['c']);
  assert.deepEqual(await names(`labelSelector=${encodeURIComponent('app in (x,y),tier=web')}`), ['a']);
  assert.deepEqual(await names('fieldSelector=metadata.name%3Db'), ['b']);
  assert.deepEqual(await names('fieldSelector=metadata.name!%3Db'), ['a', 'c']);
  assert.deepEqual(await names('fieldSelector=metadata.name!%3Db,metadata.namespace%3Dsel&labelSelector=app'), ['a']);
  const bad = await getJson('/api/v1/services?fieldSelector=spec.selector%3Dx');
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /field label not supported: spec.selector/);
  assert.equal((await getJson(`/api/v1/services?labelSelector=${encodeURIComponent('a in x')}`)).status, 400);
});

test('watch: synthetic ADDED without RV, history replay after RV, live events, bookmarks, selector moves', async () => {
  api.apply(svc('w', 'one', {}, { app: 'x' }));
  const rv0 = api.resourceVersion();
  api.apply(svc('w', 'two', {}, { app: 'x' }));
  const fresh = await watch('/api/v1/namespaces/w/services?watch=true');
  const first = [await fresh.next(), await fresh.next()];
  assert.deepEqual(first.map((e) => `${e!.type} ${e!.object.metadata.name}`), ['ADDED one', 'ADDED two']);
  assert.equal(first[0]!.object.kind, 'Service');

  const resumed = await watch(`/api/v1/services?watch=true&resourceVersion=${rv0}&allowWatchBookmarks=true&labelSelector=app%3Dx`);
  const replay = await resumed.next();
  assert.equal(replay!.type, 'ADDED');
  assert.equal(replay!.object.metadata.name, 'two');
  await api.waitForWatches(2);
  api.apply(svc('w', 'two', { publishNotReadyAddresses: true }, { app: 'x' }));
  const mod = await resumed.until((e) => e.type !== 'BOOKMARK');
  assert.equal(mod.type, 'MODIFIED');
  assert.equal(mod.object.metadata.resourceVersion, String(api.resourceVersion()));
  const bm = await resumed.until((e) => e.type === 'BOOKMARK');
  assert.deepEqual(bm.object, { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: String(api.resourceVersion()) } });
  api.apply(svc('w', 'two', {}, { app: 'z' })); // leaves the selector
  const left = await resumed.until((e) => e.type !== 'BOOKMARK');
  assert.equal(left.type, 'DELETED');
  assert.equal(left.object.metadata.name, 'two');
  api.apply(svc('w', 'two', {}, { app: 'x' })); // comes back
  assert.equal((await resumed.until((e) => e.type !== 'BOOKMARK')).type, 'ADDED');
  api.remove('Service', 'w', 'one');
  const del = await resumed.until((e) => e.type !== 'BOOKMARK');
  assert.equal(del.type, 'DELETED');
  assert.equal(del.object.metadata.name, 'one');
  assert.equal(del.object.metadata.resourceVersion, String(api.resourceVersion()));
  // The plain watch saw no bookmarks: it did not ask for them.
  const plain: string[] = [];
  for (let i = 0; i < 4; i++) plain.push((await fresh.next())!.type);
  assert.deepEqual(plain, ['MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED']);
});

test('watch: an RV older than the history gets one ERROR 410 and a clean end; timeoutSeconds ends cleanly', async () => {
  api.apply(svc('old', 'x'));
  const rv = api.resourceVersion();
  api.compact();
  const w = await watch(`/api/v1/services?watch=true&resourceVersion=${rv}`);
  const e = await w.next();
  assert.equal(e!.type, 'ERROR');
  assert.equal(e!.object.kind, 'Status');
  assert.equal(e!.object.code, 410);
  assert.equal(e!.object.reason, 'Expired');
  assert.equal(await w.next(), undefined);
  const t0 = Date.now();
  const timed = await watch(`/api/v1/pods?watch=true&resourceVersion=${api.resourceVersion()}&timeoutSeconds=1`);
  assert.equal(await timed.next(3000), undefined);
  assert.ok(Date.now() - t0 >= 900);
});

test('dropWatches ends streams abruptly; stats count lists and watches with their RVs', async () => {
  const before = api.stats();
  const rv = String(api.resourceVersion());
  const w = await watch(`/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=${rv}`);
  await api.waitForWatches(1, { resource: 'endpointslices' });
  api.dropWatches();
  await assert.rejects(w.next(2000), (err: Error) => !/timeout/.test(err.message));
  const s = api.stats();
  assert.equal(s.watches.endpointslices, before.watches.endpointslices + 1);
  const rec = s.requests.filter((r) => r.resource === 'endpointslices' && r.verb === 'watch').at(-1)!;
  assert.equal(rec.resourceVersion, rv);
  assert.equal(rec.status, 200);
  await getJson('/apis/discovery.k8s.io/v1/endpointslices?limit=10');
  const s2 = api.stats();
  assert.equal(s2.lists.endpointslices, s.lists.endpointslices + 1);
  assert.equal(s2.requests.at(-1)!.limit, 10);
});

test('injectFailure fails the matching requests `count` times', async () => {
  api.injectFailure({ status: 500, count: 2, path: '/pods', verbs: ['list'] });
  assert.equal((await getJson('/api/v1/services')).status, 200);
  const f1 = await getJson('/api/v1/pods');
  assert.equal(f1.status, 500);
  assert.equal(f1.body.kind, 'Status');
  assert.equal((await getJson('/api/v1/pods')).status, 500);
  assert.equal((await getJson('/api/v1/pods')).status, 200);
  api.injectFailure({ status: 503, count: Infinity });
  assert.equal((await getJson('/api/v1/namespaces')).status, 503);
  assert.equal((await getJson('/api/v1/namespaces')).status, 503);
  api.clearFailures();
  assert.equal((await getJson('/api/v1/namespaces')).status, 200);
});

test('hang accepts requests and never answers, freezes open watches; un-hanging serves new requests', async () => {
  const w = await watch(`/api/v1/services?watch=true&resourceVersion=${api.resourceVersion()}&allowWatchBookmarks=true`);
  await w.until((e) => e.type === 'BOOKMARK');
  api.hang(true);
  await assert.rejects(fetch(api.url + '/api/v1/services', { signal: AbortSignal.timeout(300) }), /timeout|abort/i);
  api.apply(svc('hang', 'x'));
  await assert.rejects(w.next(400), /timeout/, 'a frozen watch sends neither events nor bookmarks');
  api.hang(false);
  assert.equal((await getJson('/api/v1/services')).status, 200);
  await assert.rejects(w.next(300), /timeout/, 'what froze stays frozen');
  await w.cancel();
});

test('setOutage destroys connections for its duration', async () => {
  const w = await watch(`/api/v1/services?watch=true&resourceVersion=${api.resourceVersion()}`);
  await api.waitForWatches(1, { resource: 'services' });
  const over = api.setOutage(400);
  await assert.rejects(w.next(1000), (err: Error) => !/timeout/.test(err.message));
  await assert.rejects(fetch(api.url + '/api/v1/services'));
  assert.ok(api.stats().outageDrops >= 1);
  await over;
  assert.equal((await getJson('/api/v1/services')).status, 200);
  const ctl = await fetch(api.url + '/_control/stats');
  assert.equal(ctl.status, 200);
});

test('writeKubeconfig writes a kubeconfig client-node loads', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-'));
  try {
    const file = writeKubeconfig(dir, api.url);
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    assert.equal(kc.getCurrentCluster()!.server, api.url);
    assert.equal(kc.getCurrentCluster()!.skipTLSVerify, true);
    assert.equal(kc.getCurrentUser()!.token, 'fake-token');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
