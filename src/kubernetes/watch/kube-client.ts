/**
 * How we reach the API server, as CoreDNS's kubernetes plugin lets a user say it:
 * in-cluster (the default: service-account token and CA, KUBERNETES_SERVICE_HOST/PORT),
 * `kubeconfig FILE [CONTEXT]`, or `endpoint URL` with optional `tls CERT KEY CACERT`.
 * Every problem found here is a ClusterDnsError with ErrorCodes.KUBE_CONFIG, found at startup
 * rather than as an endless series of failing requests.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KubeConfig, type Cluster, type User } from '@kubernetes/client-node';
import { ClusterDnsError, ErrorCodes } from '../../errors.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeConnection =
  | {
      mode: 'in-cluster';
      /** Where token and ca.crt live. Default /var/run/secrets/kubernetes.io/serviceaccount. */
      serviceAccountDir?: string;
      /** Where KUBERNETES_SERVICE_HOST/PORT are read. Default process.env. */
      env?: NodeJS.ProcessEnv;
    }
  | { mode: 'kubeconfig'; file: string; context?: string }
  | { mode: 'endpoint'; url: string; tls?: { certFile: string; keyFile: string; caFile: string } };

function fail(message: string, cause?: unknown): never {
  throw new ClusterDnsError(ErrorCodes.KUBE_CONFIG, `plugin/kubernetes: ${message}`, cause === undefined ? undefined : { cause });
}

function readable(file: string, what: string): string {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    fail(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
  return path.resolve(file);
}

/**
 * client-node refuses plain http:// servers unless skipTLSVerify is set ("HTTP protocol is not
 * allowed when skipTLSVerify is not set or false"), at request time. kubectl accepts them, and
 * there is no TLS to verify, so set it for http:// clusters.
 */
function allowPlainHttp(kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.server.startsWith('http:') && !c.skipTLSVerify)) return kc;
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c): Cluster => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return out;
}

function checkServer(server: string, where: string): void {
  let u: URL;
  try {
    u = new URL(server);
  } catch (err) {
    fail(`invalid API server URL "${server}" (${where})`, err);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`API server URL "${server}" (${where}) must be http:// or https://`);
}

export function buildKubeConfig(conn: KubeConnection = { mode: 'in-cluster' }): KubeConfig {
  switch (conn.mode) {
    case 'in-cluster': {
      const env = conn.env ?? process.env;
      const host = env.KUBERNETES_SERVICE_HOST;
      const port = env.KUBERNETES_SERVICE_PORT;
      if (!host || !port) {
        fail('not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset); use "kubeconfig" or "endpoint"');
      }
      const dir = conn.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
      const tokenFile = readable(path.join(dir, 'token'), 'service account token');
      const caFile = readable(path.join(dir, 'ca.crt'), 'service account CA');
      const server = `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
      checkServer(server, 'KUBERNETES_SERVICE_HOST/PORT');
      const kc = new KubeConfig();
      // The tokenFile auth provider re-reads the token every 60 s: projected tokens rotate.
      kc.loadFromClusterAndUser(
        { name: 'in-cluster', server, caFile, skipTLSVerify: false },
        { name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } },
      );
      return kc;
    }
    case 'kubeconfig': {
      const file = readable(conn.file, 'kubeconfig');
      const kc = new KubeConfig();
      try {
        kc.loadFromFile(file);
      } catch (err) {
        fail(`cannot load kubeconfig ${file}: ${(err as Error).message}`, err);
      }
      if (conn.context !== undefined) {
        if (!kc.getContextObject(conn.context)) {
          const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
          fail(`context "${conn.context}" not found in ${file} (contexts: ${known})`);
        }
        kc.setCurrentContext(conn.context);
      }
      if (!kc.getCurrentContext() || !kc.getContextObject(kc.getCurrentContext())) fail(`no current context in ${file}`);
      const cluster = kc.getCurrentCluster();
      if (!cluster) fail(`the context "${kc.getCurrentContext()}" in ${file} names no known cluster`);
      checkServer(cluster.server, file);
      return allowPlainHttp(kc);
    }
    case 'endpoint': {
      checkServer(conn.url, 'endpoint');
      const plain = conn.url.startsWith('http:');
      let cluster: Cluster = { name: 'endpoint', server: conn.url.replace(/\/+$/, ''), skipTLSVerify: plain };
      let user: User = { name: 'endpoint' };
      if (conn.tls) {
        if (plain) fail(`"tls" needs an https:// endpoint, not ${conn.url}`);
        cluster = { ...cluster, caFile: readable(conn.tls.caFile, 'tls CA certificate') };
        user = {
          ...user,
          certFile: readable(conn.tls.certFile, 'tls client certificate'),
          keyFile: readable(conn.tls.keyFile, 'tls client key'),
        };
      }
      const kc = new KubeConfig();
      kc.loadFromClusterAndUser(cluster, user);
      return kc;
    }
  }
}
