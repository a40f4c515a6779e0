import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterDnsError, ErrorCodes } from '../../errors.js';
import { buildKubeConfig, type KubeConnection } from './kube-client.js';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kube-client-'));

function kubeConfigError(conn: KubeConnection, msg: RegExp): void {
  assert.throws(() => buildKubeConfig(conn), (err: unknown) => {
    assert.ok(err instanceof ClusterDnsError);
    assert.equal(err.code, ErrorCodes.KUBE_CONFIG);
    assert.match(err.message, msg);
    return true;
  });
}

async function authorization(kc: ReturnType<typeof buildKubeConfig>): Promise<string | null> {
  const fo = await kc.applyToFetchOptions({});
  return (fo.headers as unknown as { get(k: string): string | null }).get('authorization');
}

test('in-cluster: service account token and CA, KUBERNETES_SERVICE_HOST/PORT', async () => {
  const dir = tmp();
  try {
    fs.writeFileSync(path.join(dir, 'token'), 'sa-token');
    fs.writeFileSync(path.join(dir, 'ca.crt'), 'not really a certificate');
    const kc = buildKubeConfig({ mode: 'in-cluster', serviceAccountDir: dir, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' } });
    assert.equal(kc.getCurrentCluster()!.server, 'https://10.96.0.1:443');
    assert.equal(kc.getCurrentCluster()!.caFile, path.join(dir, 'ca.crt'));
    assert.equal(await authorization(kc), 'Bearer sa-token');
    const v6 = buildKubeConfig({ mode: 'in-cluster', serviceAccountDir: dir, env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' } });
    assert.equal(v6.getCurrentCluster()!.server, 'https://[fd00::1]:6443');
    kubeConfigError({ mode: 'in-cluster', serviceAccountDir: dir, env: {} }, /not running in a cluster/);
    fs.rmSync(path.join(dir, 'token'));
    kubeConfigError({ mode: 'in-cluster', serviceAccountDir: dir, env: { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '443' } },
      /cannot read service account token .*token: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig FILE [CONTEXT]', async () => {
  const dir = tmp();
  try {
    const file = path.join(dir, 'config');
    fs.writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: plain
  cluster: {server: "http://127.0.0.1:8080"}
- name: secure
  cluster: {server: "https://kube.example:6443", insecure-skip-tls-verify: false}
users:
- name: u
  user: {token: tok}
contexts:
- name: one
  context: {cluster: plain, user: u}
- name: two
  context: {cluster: secure, user: u}
- name: broken
  context: {cluster: missing, user: u}
current-context: one
`);
    const one = buildKubeConfig({ mode: 'kubeconfig', file });
    assert.equal(one.getCurrentCluster()!.server, 'http://127.0.0.1:8080');
    assert.equal(one.getCurrentCluster()!.skipTLSVerify, true, 'http:// works without insecure-skip-tls-verify, as with kubectl');
    assert.equal(await authorization(one), 'Bearer tok');
    const two = buildKubeConfig({ mode: 'kubeconfig', file, context: 'two' });
    assert.equal(two.getCurrentCluster()!.server, 'https://kube.example:6443');
    assert.equal(two.getCurrentCluster()!.skipTLSVerify, false);
    kubeConfigError({ mode: 'kubeconfig', file, context: 'three' }, /context "three" not found in .*config \(contexts: one, two, broken\)/);
    kubeConfigError({ mode: 'kubeconfig', file, context: 'broken' }, /names no known cluster/);
    kubeConfigError({ mode: 'kubeconfig', file: path.join(dir, 'nope') }, /cannot read kubeconfig .*nope: ENOENT/);
    fs.writeFileSync(path.join(dir, 'garbage'), 'clusters: [[[');
    kubeConfigError({ mode: 'kubeconfig', file: path.join(dir, 'garbage') }, /cannot load kubeconfig/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('endpoint URL [tls CERT KEY CACERT]', () => {
  const dir = tmp();
  try {
    const plain = buildKubeConfig({ mode: 'endpoint', url: 'http://127.0.0.1:8001/' });
    assert.equal(plain.getCurrentCluster()!.server, 'http://127.0.0.1:8001');
    assert.equal(plain.getCurrentCluster()!.skipTLSVerify, true);
    for (const f of ['cert.pem', 'key.pem', 'ca.pem']) fs.writeFileSync(path.join(dir, f), f);
    const tls = { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), caFile: path.join(dir, 'ca.pem') };
    const secure = buildKubeConfig({ mode: 'endpoint', url: 'https://kube:6443', tls });
    assert.equal(secure.getCurrentCluster()!.caFile, tls.caFile);
    assert.equal(secure.getCurrentCluster()!.skipTLSVerify, false);
    assert.equal(secure.getCurrentUser()!.certFile, tls.certFile);
    assert.equal(secure.getCurrentUser()!.keyFile, tls.keyFile);
    kubeConfigError({ mode: 'endpoint', url: 'kube:6443' }, /invalid API server URL "kube:6443"|must be http/);
    kubeConfigError({ mode: 'endpoint', url: 'ftp://kube' }, /must be http:\/\/ or https:\/\//);
    kubeConfigError({ mode: 'endpoint', url: 'http://kube', tls }, /"tls" needs an https:\/\/ endpoint/);
    kubeConfigError({ mode: 'endpoint', url: 'https://kube', tls: { ...tls, keyFile: path.join(dir, 'missing.pem') } }, /cannot read tls client key .*missing.pem/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
