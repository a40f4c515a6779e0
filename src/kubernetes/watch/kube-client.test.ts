import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ClusterDnsError, ErrorCodes } from '../../errors.js';
import { buildKubeConfig, KubeClient, type KubeClientConfig, type KubeConnection } from './kube-client.js';

const TESTDATA = path.join(path.dirname(new URL(import.meta.url).pathname), 'testdata');
const fixture = (name: string): Buffer => fs.readFileSync(path.join(TESTDATA, name));
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kube-client-'));

function kubeConfigError(conn: KubeConnection, msg: RegExp): void {
  assert.throws(() => buildKubeConfig(conn), (err: unknown) => {
    assert.ok(err instanceof ClusterDnsError, String(err));
    assert.equal(err.code, ErrorCodes.KUBE_CONFIG);
    assert.match(err.message, msg);
    return true;
  });
}

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The client certificate's CN, over TLS. */
  clientCn?: string;
}

/** A stand-in API server: answers every GET with an empty list and remembers what it was sent. */
async function apiServer(o: { tls?: boolean; clientCerts?: boolean } = {}): Promise<{ url: string; port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const s: Seen = { url: req.url ?? '', headers: req.headers };
    const peer = (req.socket as Partial<TLSSocket>).getPeerCertificate?.();
    if (peer && peer.subject) s.clientCn = peer.subject.CN;
    seen.push(s);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [] }));
  };
  const server = o.tls
    ? https.createServer({
        cert: fixture('server.crt'), key: fixture('server.key'),
        ...(o.clientCerts && { ca: fixture('ca.crt'), requestCert: true, rejectUnauthorized: true }),
      }, handler)
    : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    seen,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** One list request with the resolved connection, as the watch makes it; the body must be the stand-in's list. */
async function get(cfg: KubeClientConfig): Promise<void> {
  const client = new KubeClient(cfg);
  try {
    const res = await client.get('/api/v1/namespaces', { limit: '500' }, { timeoutMs: 5000 });
    let body = '';
    for await (const c of res) body += String(c);
    assert.equal(res.statusCode, 200);
    assert.equal((JSON.parse(body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion, '7');
  } finally {
    client.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('in-cluster: KUBERNETES_SERVICE_HOST/PORT over TLS with the service account CA and token', async () => {
  const dir = tmp();
  const api = await apiServer({ tls: true });
  try {
    fs.writeFileSync(path.join(dir, 'token'), 'sa-token\n');
    fs.copyFileSync(path.join(TESTDATA, 'ca.crt'), path.join(dir, 'ca.crt'));
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const cfg = buildKubeConfig({ mode: 'in-cluster', serviceAccountDir: dir, env });
    assert.equal(cfg.server, `https://127.0.0.1:${api.port}`);
    assert.equal(cfg.source, 'in-cluster');
    assert.deepEqual(cfg.tls.ca, fixture('ca.crt'));
    assert.equal(cfg.tls.insecureSkipTLSVerify, false);
    assert.equal(cfg.auth.kind, 'token-file');
    await get(cfg);
    assert.equal(api.seen[0]!.headers.authorization, 'Bearer sa-token', 'the token, trimmed');
    assert.equal(api.seen[0]!.url, '/api/v1/namespaces?limit=500');

    const v6 = buildKubeConfig({ mode: 'in-cluster', serviceAccountDir: dir, env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' } });
    assert.equal(v6.server, 'https://[fd00::1]:6443');
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('in-cluster: a rotated token is re-read once the copy is older than the max age, not on every request', async () => {
  const dir = tmp();
  const api = await apiServer({ tls: true });
  try {
    const tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, 'token-1');
    fs.copyFileSync(path.join(TESTDATA, 'ca.crt'), path.join(dir, 'ca.crt'));
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const rotating = buildKubeConfig({ mode: 'in-cluster', serviceAccountDir: dir, env }, { tokenMaxAgeMs: 200 });
    const cached = buildKubeConfig({ mode: 'in-cluster', serviceAccountDir: dir, env });
    await get(rotating);
    // The kubelet replaces the projected token by renaming a new file over it.
    fs.writeFileSync(`${tokenFile}.new`, 'token-2');
    fs.renameSync(`${tokenFile}.new`, tokenFile);
    await get(rotating);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer token-1', 'within the max age the copy is used');
    await sleep(250);
    await get(rotating);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer token-2', 'after the max age the new token');
    await get(cached);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer token-1', 'default max age: 60 s');
    // A token file that disappears for a moment: the last token is kept.
    fs.rmSync(tokenFile);
    await sleep(250);
    await get(rotating);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer token-2');
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('in-cluster: errors', () => {
  const dir = tmp();
  try {
    const env = { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '443' };
    kubeConfigError({ mode: 'in-cluster', serviceAccountDir: dir, env: {} }, /not running in a cluster \(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset\); use "kubeconfig" or "endpoint"/);
    kubeConfigError({ mode: 'in-cluster', serviceAccountDir: dir, env }, /cannot read service account token .*token: ENOENT/);
    fs.writeFileSync(path.join(dir, 'token'), 'sa-token');
    kubeConfigError({ mode: 'in-cluster', serviceAccountDir: dir, env }, /cannot read service account CA .*ca\.crt: ENOENT/);
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'not really a certificate');
    kubeConfigError({ mode: 'in-cluster', serviceAccountDir: dir, env }, /unusable TLS material \(.*ca\.crt\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const b64 = (name: string): string => fixture(name).toString('base64');

test('kubeconfig: inline -data fields (CA, client certificate and key) and tls-server-name', async () => {
  const dir = tmp();
  const api = await apiServer({ tls: true, clientCerts: true });
  try {
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: ${api.url}/
    certificate-authority-data: ${b64('ca.crt')}
- name: by-name
  cluster:
    server: https://localhost:${api.port}
    certificate-authority-data: ${b64('ca.crt')}
    tls-server-name: kube.test
users:
- name: u
  user:
    client-certificate-data: ${b64('client.crt')}
    client-key-data: ${b64('client.key')}
contexts:
- {name: ctx, context: {cluster: c, user: u}}
- {name: named, context: {cluster: by-name, user: u}}
current-context: ctx
`);
    const cfg = buildKubeConfig({ mode: 'kubeconfig', file });
    assert.equal(cfg.server, api.url, 'no trailing slash');
    assert.equal(cfg.source, `kubeconfig ${file} (context ctx)`);
    assert.deepEqual(cfg.tls.cert, fixture('client.crt'));
    assert.equal(cfg.auth.kind, 'none');
    await get(cfg);
    assert.equal(api.seen[0]!.clientCn, 'clusterdns');
    assert.equal(api.seen[0]!.headers.authorization, undefined);
    const named = buildKubeConfig({ mode: 'kubeconfig', file, context: 'named' });
    assert.equal(named.tls.serverName, 'kube.test');
    await get(named);
    assert.equal(api.seen.length, 2);
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig: file paths relative to the kubeconfig\'s directory; tokenFile re-read; the CA is checked', async () => {
  const dir = tmp();
  const api = await apiServer({ tls: true, clientCerts: true });
  try {
    fs.mkdirSync(path.join(dir, 'kube', 'pki'), { recursive: true });
    for (const f of ['ca.crt', 'client.crt', 'client.key']) fs.copyFileSync(path.join(TESTDATA, f), path.join(dir, 'kube', 'pki', f));
    fs.writeFileSync(path.join(dir, 'kube', 'token'), 'file-token\n');
    const file = path.join(dir, 'kube', 'config');
    fs.writeFileSync(file, `clusters:
- name: c
  cluster: {server: "${api.url}", certificate-authority: pki/ca.crt}
- name: wrong-ca
  cluster: {server: "${api.url}", certificate-authority: pki/client.crt}
- name: insecure
  cluster: {server: "${api.url}", insecure-skip-tls-verify: true}
users:
- name: u
  user: {client-certificate: pki/client.crt, client-key: ./pki/client.key, tokenFile: token}
contexts:
- {name: ctx, context: {cluster: c, user: u}}
- {name: wrong, context: {cluster: wrong-ca, user: u}}
- {name: insecure, context: {cluster: insecure, user: u}}
current-context: ctx
`);
    // From another working directory: the paths are the kubeconfig's, not the process's.
    const cfg = buildKubeConfig({ mode: 'kubeconfig', file: path.relative(process.cwd(), file) }, { tokenMaxAgeMs: 100 });
    assert.deepEqual(cfg.tls.ca, fixture('ca.crt'));
    assert.equal(cfg.auth.kind, 'token-file');
    await get(cfg);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer file-token');
    assert.equal(api.seen.at(-1)!.clientCn, 'clusterdns');
    fs.writeFileSync(path.join(dir, 'kube', 'token'), 'file-token-2');
    await sleep(150);
    await get(cfg);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer file-token-2');

    await assert.rejects(get(buildKubeConfig({ mode: 'kubeconfig', file, context: 'wrong' })), /certificate/i, 'a server certificate the CA did not sign is refused');
    await get(buildKubeConfig({ mode: 'kubeconfig', file, context: 'insecure' }));
    assert.equal(api.seen.at(-1)!.clientCn, 'clusterdns');
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig: contexts, plain http without insecure-skip-tls-verify, basic auth, impersonation', async () => {
  const dir = tmp();
  const api = await apiServer();
  try {
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: plain
  cluster: {server: "${api.url}"}
- name: secure
  cluster: {server: "https://kube.example:6443", insecure-skip-tls-verify: false}
users:
- name: u
  user: {token: tok}
- name: basic
  user: {username: admin, password: "s3cret:x", as: alice, as-groups: [dev, ops], as-uid: "42"}
contexts:
- name: one
  context: {cluster: plain, user: u}
- name: two
  context: {cluster: secure, user: u}
- name: anonymous
  context: {cluster: plain}
- name: basic
  context: {cluster: plain, user: basic}
- name: broken
  context: {cluster: missing, user: u}
- name: nouser
  context: {cluster: plain, user: ghost}
current-context: one
`);
    const one = buildKubeConfig({ mode: 'kubeconfig', file });
    assert.equal(one.server, api.url);
    await get(one);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer tok', 'http:// works without insecure-skip-tls-verify, as with kubectl');
    const two = buildKubeConfig({ mode: 'kubeconfig', file, context: 'two' });
    assert.equal(two.server, 'https://kube.example:6443');
    assert.equal(two.tls.insecureSkipTLSVerify, false);
    assert.equal(two.tls.ca, undefined, 'the system CAs');
    await get(buildKubeConfig({ mode: 'kubeconfig', file, context: 'anonymous' }));
    assert.equal(api.seen.at(-1)!.headers.authorization, undefined);
    await get(buildKubeConfig({ mode: 'kubeconfig', file, context: 'basic' }));
    const h = api.seen.at(-1)!.headers;
    assert.equal(h.authorization, `Basic ${Buffer.from('admin:s3cret:x').toString('base64')}`);
    assert.equal(h['impersonate-user'], 'alice');
    assert.equal(h['impersonate-uid'], '42');
    assert.equal(h['impersonate-group'], 'dev, ops');

    kubeConfigError({ mode: 'kubeconfig', file, context: 'three' }, /context "three" not found in .*config \(contexts: one, two, anonymous, basic, broken, nouser\)/);
    kubeConfigError({ mode: 'kubeconfig', file, context: 'broken' }, /the context "broken" in .*config names no known cluster \("missing"\)/);
    kubeConfigError({ mode: 'kubeconfig', file, context: 'nouser' }, /the context "nouser" in .*config names no known user \("ghost"\)/);
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig: errors', () => {
  const dir = tmp();
  try {
    const write = (name: string, text: string): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const cases: Array<[string, string, RegExp]> = [
      ['garbage', 'clusters: [[[', /cannot load kubeconfig .*garbage: /],
      ['scalar', 'just text', /cannot load kubeconfig .*scalar: not a YAML mapping/],
      ['not-a-list', 'clusters: {a: 1}\ncurrent-context: x', /cannot load kubeconfig .*"clusters" is not a list/],
      ['nameless', 'clusters: [{cluster: {server: "http://x"}}]', /cannot load kubeconfig .*clusters\[0\] has no name/],
      ['no-current', 'clusters: []\ncontexts: [{name: a, context: {cluster: c}}]', /no current context in .*no-current/],
      ['no-server', 'clusters: [{name: c, cluster: {}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a', /the cluster "c" in .*no-server has no server/],
      ['bad-url', 'clusters: [{name: c, cluster: {server: "kube:6443"}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a', /invalid API server URL "kube:6443"|must be http/],
      ['ftp', 'clusters: [{name: c, cluster: {server: "ftp://kube"}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a', /API server URL "ftp:\/\/kube" \(.*\) must be http:\/\/ or https:\/\//],
      ['bad-base64', 'clusters: [{name: c, cluster: {server: "https://k", certificate-authority-data: "!!not base64!!"}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a',
        /certificate-authority-data of cluster "c" .* is not base64/],
      ['missing-ca', 'clusters: [{name: c, cluster: {server: "https://k", certificate-authority: nope.crt}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a',
        /cannot read certificate-authority of cluster "c" .*nope\.crt: ENOENT/],
      ['bad-pem', `clusters: [{name: c, cluster: {server: "https://k", certificate-authority-data: "${Buffer.from('junk').toString('base64')}"}}]\ncontexts: [{name: a, context: {cluster: c}}]\ncurrent-context: a`,
        /unusable TLS material \(kubeconfig .*context "a"\)/],
      ['cert-no-key', `clusters: [{name: c, cluster: {server: "https://k"}}]\nusers: [{name: u, user: {client-certificate-data: "${b64('client.crt')}"}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a`,
        /user "u" .* has a client certificate without a key/],
      ['key-mismatch', `clusters: [{name: c, cluster: {server: "https://k"}}]\nusers: [{name: u, user: {client-certificate-data: "${b64('client.crt')}", client-key-data: "${b64('server.key')}"}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a`,
        /unusable TLS material/],
      ['token-and-basic', 'clusters: [{name: c, cluster: {server: "https://k"}}]\nusers: [{name: u, user: {token: t, username: a, password: b}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a',
        /user "u" .* has both a token and a username\/password/],
      ['missing-token-file', 'clusters: [{name: c, cluster: {server: "https://k"}}]\nusers: [{name: u, user: {tokenFile: gone}}]\ncontexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a',
        /cannot read tokenFile of user "u" .*gone: ENOENT/],
    ];
    for (const [name, text, msg] of cases) kubeConfigError({ mode: 'kubeconfig', file: write(name, text) }, msg);
    kubeConfigError({ mode: 'kubeconfig', file: path.join(dir, 'nope') }, /cannot read kubeconfig .*nope: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig: a user with exec takes client-node, loaded lazily, for every request', async () => {
  const dir = tmp();
  const api = await apiServer();
  try {
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-token' } });
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, `clusters:
- name: c
  cluster: {server: "${api.url}"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ${JSON.stringify(process.execPath)}
      args: ["-e", ${JSON.stringify(`console.log(${JSON.stringify(credential)})`)}]
      interactiveMode: Never
- name: slow
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ${JSON.stringify(process.execPath)}, args: ["-e", "setTimeout(() => {}, 2000)"]}
- name: oidc
  user:
    auth-provider: {name: oidc, config: {client-id: x, id-token: y, idp-issuer-url: "https://idp"}}
contexts:
- {name: a, context: {cluster: c, user: u}}
- {name: b, context: {cluster: c, user: oidc}}
- {name: slow, context: {cluster: c, user: slow}}
current-context: a
`);
    const cfg = buildKubeConfig({ mode: 'kubeconfig', file });
    assert.equal(cfg.auth.kind, 'client-node');
    assert.ok(cfg.auth.kind === 'client-node' && cfg.auth.reason === 'exec' && cfg.auth.context === 'a');
    assert.equal(cfg.server, api.url);
    await get(cfg);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer exec-token', 'the token the exec plugin printed, through client-node');
    await get(cfg);
    assert.equal(api.seen.at(-1)!.headers.authorization, 'Bearer exec-token');
    // An exec plugin that hangs is bounded like the response.
    const slow = new KubeClient(buildKubeConfig({ mode: 'kubeconfig', file, context: 'slow' }));
    try {
      await assert.rejects(slow.get('/api/v1/namespaces', {}, { timeoutMs: 300 }), /no credentials after 300 ms \(request timeout\)/);
    } finally {
      slow.close();
    }
    const oidc = buildKubeConfig({ mode: 'kubeconfig', file, context: 'b' });
    assert.ok(oidc.auth.kind === 'client-node' && oidc.auth.reason === 'auth-provider');
  } finally {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('endpoint URL [tls CERT KEY CACERT]', async () => {
  const dir = tmp();
  const plainApi = await apiServer();
  const tlsApi = await apiServer({ tls: true, clientCerts: true });
  try {
    const plain = buildKubeConfig({ mode: 'endpoint', url: `${plainApi.url}/` });
    assert.equal(plain.server, plainApi.url);
    assert.equal(plain.auth.kind, 'none');
    await get(plain);
    assert.equal(plainApi.seen.length, 1);

    const tls = { certFile: path.join(TESTDATA, 'client.crt'), keyFile: path.join(TESTDATA, 'client.key'), caFile: path.join(TESTDATA, 'ca.crt') };
    const secure = buildKubeConfig({ mode: 'endpoint', url: tlsApi.url, tls });
    assert.deepEqual(secure.tls.ca, fixture('ca.crt'));
    assert.equal(secure.tls.insecureSkipTLSVerify, false);
    await get(secure);
    assert.equal(tlsApi.seen.at(-1)!.clientCn, 'clusterdns');
    await assert.rejects(get(buildKubeConfig({ mode: 'endpoint', url: tlsApi.url })), /certificate/i, 'without the CA the test server is not trusted');

    for (const f of ['cert.pem', 'key.pem', 'ca.pem']) fs.writeFileSync(path.join(dir, f), f);
    kubeConfigError({ mode: 'endpoint', url: 'kube:6443' }, /invalid API server URL "kube:6443"|must be http/);
    kubeConfigError({ mode: 'endpoint', url: 'ftp://kube' }, /must be http:\/\/ or https:\/\//);
    kubeConfigError({ mode: 'endpoint', url: 'http://kube', tls }, /"tls" needs an https:\/\/ endpoint/);
    kubeConfigError({ mode: 'endpoint', url: 'https://kube', tls: { ...tls, keyFile: path.join(dir, 'missing.pem') } }, /cannot read tls client key .*missing.pem/);
    kubeConfigError({ mode: 'endpoint', url: 'https://kube', tls: { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), caFile: path.join(dir, 'ca.pem') } },
      /unusable TLS material \(endpoint tls\)/);
  } finally {
    await plainApi.close();
    await tlsApi.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a request without response headers is given up after timeoutMs; a reused connection the server drops is retried once', async () => {
  const sockets = new Set<import('node:net').Socket>();
  const perSocket = new Map<import('node:net').Socket, number>();
  let dropped = 0;
  const server = http.createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (req.url?.includes('hang')) return; // never answers
    // The second request on the first kept-alive connection: the connection dies under it, as when
    // the server's idle timeout closes it while the client reuses it.
    if (n === 2 && dropped === 0) {
      dropped++;
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{}');
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new KubeClient(buildKubeConfig({ mode: 'endpoint', url }));
  try {
    const t0 = Date.now();
    await assert.rejects(client.get('/hang', {}, { timeoutMs: 200 }), /GET \/hang: no response for 200 ms \(request timeout\)/);
    assert.ok(Date.now() - t0 < 1000);
    for (let i = 0; i < 3; i++) {
      const res = await client.get('/ok', {}, { timeoutMs: 2000 });
      res.resume();
      await new Promise((r) => res.on('end', r));
    }
    assert.equal(dropped, 1, 'a reused connection was dropped under a request, and the request succeeded on a new one');
    const ac = new AbortController();
    const pending = client.get('/hang', {}, { timeoutMs: 5000, signal: ac.signal });
    ac.abort(new Error('stopped'));
    await assert.rejects(pending, /stopped|abort/i);
  } finally {
    client.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
