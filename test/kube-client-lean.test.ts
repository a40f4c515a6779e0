/**
 * The kubernetes plugin never loads @kubernetes/client-node for an in-cluster, kubeconfig (token,
 * certificates) or endpoint connection: importing it alone costs ~73 MB of RSS (kube-client.ts).
 *
 * How it is seen: the child process runs with a module.register() resolve hook that appends the
 * URL of every module the ESM loader resolves to a file (client-node is an ES module; the check of
 * require.cache in the child covers CommonJS too). The exec kubeconfig, which must load the library,
 * is the control: it shows that the hook sees the library when it is loaded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi } from './support/fake-kube-api.js';
import { freePort } from './support/ports.js';
import { startServer } from './support/server-process.js';
import type { KubeConnection } from '../src/kubernetes/watch/kube-client.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const testdata = path.join(root, 'src', 'kubernetes', 'watch', 'testdata');
const LIBRARY = '@kubernetes/client-node';

let api: FakeKubeApi;
let tlsFront: https.Server;
let dir: string;
let register: string;

before(async () => {
  api = await startFakeKubeApi({
    objects: [
      { kind: 'Namespace', metadata: { name: 'demo' } },
      { kind: 'Service', metadata: { name: 'web', namespace: 'demo' }, spec: { clusterIP: '10.96.0.20', ports: [{ port: 80 }] } },
    ],
    bookmarkMs: 200,
  });
  // In-cluster is always https: a TLS front (the test CA's server certificate) passing requests to the double.
  tlsFront = https.createServer({ cert: fs.readFileSync(path.join(testdata, 'server.crt')), key: fs.readFileSync(path.join(testdata, 'server.key')) }, (req, res) => {
    const up = http.request(api.url + (req.url ?? '/'), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => tlsFront.listen(0, '127.0.0.1', r));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-lean-'));
  fs.writeFileSync(path.join(dir, 'hooks.mjs'), `import fs from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  fs.appendFileSync(process.env.CLUSTERDNS_TEST_LOADED, r.url + '\\n');
  return r;
}
`);
  register = path.join(dir, 'register.mjs');
  fs.writeFileSync(register, `import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n`);
});

after(async () => {
  tlsFront?.closeAllConnections();
  await new Promise<void>((r) => (tlsFront ? tlsFront.close(() => r()) : r()));
  await api?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * In a child: loads the kubernetes plugin, starts its source (the watch) on `conn`, waits for the
 * first sync, and stops it. Returns the modules the ESM loader resolved and what require.cache holds.
 */
async function loadPlugin(name: string, conn: KubeConnection): Promise<{ esm: string[]; cjs: string[] }> {
  const log = path.join(dir, `${name}.loaded`);
  const src = (p: string): string => pathToFileURL(path.join(root, 'src', p)).href;
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(src('plugins/kubernetes/setup.ts'))});
    const { acquireSource } = await import(${JSON.stringify(src('plugins/kubernetes/source.ts'))});
    const { pino } = await import('pino');
    const cfg = {
      zones: ['cluster.local.'], primaryZone: 'cluster.local.', connection: JSON.parse(process.env.CONN), snapshot: undefined,
      namespaces: [], labels: undefined, namespaceLabels: undefined, pods: 'disabled', endpointPodNames: false, ttl: 5,
      noEndpoints: false, ignoreEmptyService: false, fallArgs: undefined, startupTimeoutMs: 5000,
    };
    const { source, release } = acquireSource(cfg, pino({ level: 'silent' }));
    const timer = setTimeout(() => { console.error('no sync in 10 s'); process.exit(2); }, 10000);
    await source.whenSynced();
    clearTimeout(timer);
    const services = source.store.entry('demo', 'web') ? 1 : 0;
    await release();
    const cjs = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ services, cjs }));
  `;
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(register).href, '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, CONN: JSON.stringify(conn), CLUSTERDNS_TEST_LOADED: log },
      timeout: 30_000,
    }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { services: number; cjs: string[] };
  assert.equal(r.services, 1, 'the watch delivered the cluster');
  const esm = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.ok(esm.some((u) => u.endsWith('/src/kubernetes/watch/informers.ts')), 'the hook saw the watch module');
  return { esm, cjs: r.cjs };
}

const libraryIn = (urls: string[]): string[] => urls.filter((u) => u.includes(LIBRARY));

test('in-cluster, kubeconfig and endpoint connections do not load @kubernetes/client-node', { timeout: 90_000 }, async () => {
  const sa = path.join(dir, 'serviceaccount');
  fs.mkdirSync(sa);
  fs.writeFileSync(path.join(sa, 'token'), 'sa-token');
  fs.copyFileSync(path.join(testdata, 'ca.crt'), path.join(sa, 'ca.crt'));
  const port = (tlsFront.address() as AddressInfo).port;
  const connections: Array<[string, KubeConnection]> = [
    ['in-cluster', { mode: 'in-cluster', serviceAccountDir: sa, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) } }],
    ['kubeconfig', { mode: 'kubeconfig', file: writeKubeconfig(dir, api.url) }],
    ['endpoint', { mode: 'endpoint', url: api.url }],
  ];
  for (const [name, conn] of connections) {
    const { esm, cjs } = await loadPlugin(name, conn);
    assert.deepEqual(libraryIn(esm), [], `${name}: ESM modules of ${LIBRARY} loaded`);
    assert.deepEqual(libraryIn(cjs), [], `${name}: CommonJS modules of ${LIBRARY} loaded`);
  }
  const inCluster = api.stats().requests.filter((r) => r.verb === 'list');
  assert.ok(inCluster.length >= 9, 'every connection listed through the double');
});

test('control: a kubeconfig user with exec does load it (so the check above can see it)', { timeout: 60_000 }, async () => {
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-token' } });
  const file = path.join(dir, 'exec-kubeconfig');
  fs.writeFileSync(file, `clusters: [{name: c, cluster: {server: "${api.url}"}}]
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ${JSON.stringify(process.execPath)}, args: ["-e", ${JSON.stringify(`console.log(${JSON.stringify(credential)})`)}]}
contexts: [{name: a, context: {cluster: c, user: u}}]
current-context: a
`);
  const { esm } = await loadPlugin('exec', { mode: 'kubeconfig', file });
  assert.ok(libraryIn(esm).length > 0, `${LIBRARY} loaded for exec`);
});

test('the server (dist/cli.js) serving a kubeconfig connection does not load it', { timeout: 60_000 }, async () => {
  const log = path.join(dir, 'cli.loaded');
  const [port, readyPort] = [await freePort(), await freePort()];
  const srv = await startServer(`.:${port} {
    ready 127.0.0.1:${readyPort}
    kubernetes cluster.local {
        kubeconfig ${writeKubeconfig(dir, api.url)}
    }
}
`, { env: { NODE_OPTIONS: `--import ${pathToFileURL(register).href}`, CLUSTERDNS_TEST_LOADED: log } });
  try {
    await srv.waitFor(/initial sync done/);
  } finally {
    await srv.stop();
  }
  const esm = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  assert.ok(esm.some((u) => u.endsWith('/dist/kubernetes/watch/informers.js')), 'the hook saw the server load the watch');
  assert.deepEqual(libraryIn(esm), []);
});
