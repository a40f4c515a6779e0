/**
 * How we reach the API server, as CoreDNS's kubernetes plugin lets a user say it:
 * in-cluster (the default: service-account token and CA, KUBERNETES_SERVICE_HOST/PORT),
 * `kubeconfig FILE [CONTEXT]`, or `endpoint URL` with optional `tls CERT KEY CACERT`.
 * Every problem found here is a ClusterDnsError with ErrorCodes.KUBE_CONFIG, found at startup
 * rather than as an endless series of failing requests.
 *
 * Why our own and not @kubernetes/client-node's KubeConfig: importing that module loads every
 * generated API model; measured on Node 20, `import('@kubernetes/client-node')` alone takes a
 * process from 39 to 112 MB RSS and ~0.8 s — more than the record store of a 10k-object cluster,
 * against a memory target of 64.5 MB. What the watch needs is a URL, TLS material and an
 * Authorization header, so a connection resolves here into a KubeClientConfig (server, CA, client
 * certificate and key, a token source, the insecure flag) and KubeClient makes plain node:http(s)
 * requests with it.
 *
 * client-node is still used, loaded on the first request (`await import(...)`), for what it
 * does and we should not redo: kubeconfig users with `exec` (EKS, GKE's gke-gcloud-auth-plugin,
 * kubelogin...) or an `auth-provider` (OIDC, GCP, Azure), and clusters behind a `proxy-url`.
 * For those, every request takes its TLS options, headers and agent from client-node's
 * KubeConfig.applyToHTTPSOptions. In-cluster, endpoint, and kubeconfig users with a token, a
 * token file, a client certificate or a username/password never load it.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { KubeConfig as LibraryKubeConfig } from '@kubernetes/client-node';
import { isObj, nonEmptyString as str } from './json-shape.js';
import { yaml } from './lazy-yaml.js';
import { ClusterDnsError, ErrorCodes } from '../../errors.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How often a token file (the service account's, or a kubeconfig `tokenFile`) is re-read: as client-go. */
export const TOKEN_FILE_MAX_AGE_MS = 60_000;

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

export interface TlsSettings {
  /** PEM; absent: the system's CAs. */
  ca?: Buffer;
  /** Client certificate and key, PEM. */
  cert?: Buffer;
  key?: Buffer;
  /** kubeconfig insecure-skip-tls-verify: the server's certificate is not checked. */
  insecureSkipTLSVerify: boolean;
  /** kubeconfig tls-server-name: the name the certificate is checked against (and SNI). */
  serverName?: string;
}

export type KubeAuth =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  | { kind: 'token-file'; tokens: TokenFile }
  | { kind: 'basic'; username: string; password: string }
  /** exec, auth-provider or proxy-url: the request options come from client-node (see the top). */
  | { kind: 'client-node'; file: string; context: string; reason: string; library: LibraryAuth };

/** A connection resolved: everything a request needs. Built once, shared by the requests. */
export interface KubeClientConfig {
  /** The API server's base URL without a trailing slash (it may carry a path prefix). */
  readonly server: string;
  /** Where this came from, for messages: "in-cluster", "kubeconfig FILE (context C)", "endpoint". */
  readonly source: string;
  readonly tls: TlsSettings;
  readonly auth: KubeAuth;
  /** kubeconfig `as`, `as-groups`, `as-uid`: Impersonate-* headers. */
  readonly impersonate?: { user?: string; groups?: string[]; uid?: string };
}

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

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    fail(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
}

function checkServer(server: string, where: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch (err) {
    fail(`invalid API server URL "${server}" (${where})`, err);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`API server URL "${server}" (${where}) must be http:// or https://`);
  return server.replace(/\/+$/, '');
}

/** Bad PEM, or a key that does not match its certificate, is a startup error, not a failing request per retry. */
function checkTls(t: TlsSettings, where: string): TlsSettings {
  try {
    // createSecureContext skips a CA that is not a certificate; X509Certificate does not (it reads the first of a bundle).
    if (t.ca) new X509Certificate(t.ca);
    tls.createSecureContext({ ...(t.ca && { ca: t.ca }), ...(t.cert && { cert: t.cert }), ...(t.key && { key: t.key }) });
  } catch (err) {
    fail(`unusable TLS material (${where}): ${(err as Error).message}`, err);
  }
  return t;
}

// ---- token files -------------------------------------------------------------------------------

/**
 * A bearer token kept in a file that is rewritten under us (projected service-account tokens are
 * rotated by the kubelet): re-read when the copy is older than maxAgeMs, as client-go does, with an
 * asynchronous read on the request that finds it stale. A failed or empty read keeps the last token.
 */
export class TokenFile {
  private token: string;
  private readAt: number;
  private pending: Promise<string> | undefined;

  constructor(readonly file: string, private readonly maxAgeMs = TOKEN_FILE_MAX_AGE_MS, what = 'token file') {
    this.token = readFile(file, what).toString('utf8').trim();
    this.readAt = Date.now();
  }

  get(): Promise<string> | string {
    if (Date.now() - this.readAt < this.maxAgeMs) return this.token;
    this.pending ??= fs.promises.readFile(this.file, 'utf8').then(
      (text) => {
        const t = text.trim();
        if (t) this.token = t;
        return this.token;
      },
      () => this.token,
    ).finally(() => {
      this.readAt = Date.now();
      this.pending = undefined;
    });
    return this.pending;
  }
}

// ---- the library, for exec and auth providers ---------------------------------------------------

/** client-node's KubeConfig for one kubeconfig file and context, imported on first use. */
export class LibraryAuth {
  private kc: Promise<LibraryKubeConfig> | undefined;

  constructor(readonly file: string, readonly context: string) {}

  private load(): Promise<LibraryKubeConfig> {
    this.kc ??= (async () => {
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      kc.loadFromFile(this.file);
      kc.setCurrentContext(this.context);
      // client-node refuses plain http:// servers without skipTLSVerify ("HTTP protocol is not
      // allowed when skipTLSVerify is not set or false"); kubectl accepts them, there is no TLS.
      if (kc.clusters.some((c) => c.server.startsWith('http:') && !c.skipTLSVerify)) {
        const clusters = kc.clusters.map((c) => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c));
        kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: this.context });
      }
      return kc;
    })();
    this.kc.catch(() => {
      this.kc = undefined;
    });
    return this.kc;
  }

  /** The options of one request: TLS material, headers (Authorization from the exec plugin...), and an agent of its own. */
  async requestOptions(): Promise<https.RequestOptions> {
    const kc = await this.load();
    const opts: https.RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    return opts;
  }
}

// ---- resolving a connection --------------------------------------------------------------------

type Obj = Record<string, unknown>;

/** `clusters`, `users` or `contexts`: name → the inner mapping (cluster/user/context). */
function section(doc: Obj, key: 'clusters' | 'users' | 'contexts', inner: string, file: string): Map<string, Obj> {
  const out = new Map<string, Obj>();
  const list = doc[key];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) fail(`cannot load kubeconfig ${file}: "${key}" is not a list`);
  list.forEach((e: unknown, i) => {
    const name = isObj(e) ? str(e.name) : undefined;
    if (!name) fail(`cannot load kubeconfig ${file}: ${key}[${i}] has no name`);
    const body = (e as Obj)[inner];
    if (!out.has(name)) out.set(name, isObj(body) ? body : {}); // the first wins, as in client-go
  });
  return out;
}

/** `X-data` (base64, inline) or `X` (a file, relative to the kubeconfig's directory). */
function material(o: Obj, key: string, dir: string, what: string): Buffer | undefined {
  const data = o[`${key}-data`];
  if (data !== undefined && data !== null && data !== '') {
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/=\s]*$/.test(data)) fail(`${key}-data of ${what} is not base64`);
    return Buffer.from(data, 'base64');
  }
  const file = str(o[key]);
  return file === undefined ? undefined : readFile(path.resolve(dir, file), `${key} of ${what}`);
}

function fromKubeconfig(conn: { file: string; context?: string }, tokenMaxAgeMs: number): KubeClientConfig {
  const file = readable(conn.file, 'kubeconfig');
  const dir = path.dirname(file);
  let doc: unknown;
  try {
    doc = yaml().parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot load kubeconfig ${file}: ${(err as Error).message}`, err);
  }
  if (!isObj(doc)) fail(`cannot load kubeconfig ${file}: not a YAML mapping`);
  const clusters = section(doc, 'clusters', 'cluster', file);
  const users = section(doc, 'users', 'user', file);
  const contexts = section(doc, 'contexts', 'context', file);

  let name = conn.context;
  if (name !== undefined) {
    if (!contexts.has(name)) fail(`context "${name}" not found in ${file} (contexts: ${[...contexts.keys()].join(', ') || 'none'})`);
  } else {
    name = str(doc['current-context']);
    if (name === undefined || !contexts.has(name)) fail(`no current context in ${file}`);
  }
  const context = contexts.get(name)!;
  const clusterName = str(context.cluster);
  const cluster = clusterName === undefined ? undefined : clusters.get(clusterName);
  if (!cluster) fail(`the context "${name}" in ${file} names no known cluster${clusterName ? ` ("${clusterName}")` : ''}`);
  const userName = str(context.user);
  const user = userName === undefined ? {} : users.get(userName);
  if (!user) fail(`the context "${name}" in ${file} names no known user ("${userName}")`);

  const where = `kubeconfig ${file}, context "${name}"`;
  const rawServer = str(cluster.server);
  if (rawServer === undefined) fail(`the cluster "${clusterName}" in ${file} has no server`);
  const server = checkServer(rawServer, file);
  const source = `kubeconfig ${file} (context ${name})`;

  const library = user.exec != null ? 'exec' : user['auth-provider'] != null ? 'auth-provider' : cluster['proxy-url'] != null ? 'proxy-url' : undefined;
  if (library) {
    const t: TlsSettings = { insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true || server.startsWith('http:') };
    return { server, source, tls: t, auth: { kind: 'client-node', file, context: name, reason: library, library: new LibraryAuth(file, name) } };
  }

  const clusterWhat = `cluster "${clusterName}" (${file})`;
  const userWhat = `user "${userName}" (${file})`;
  const serverName = str(cluster['tls-server-name']);
  const t: TlsSettings = {
    insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    ...(serverName !== undefined && { serverName }),
  };
  const ca = material(cluster, 'certificate-authority', dir, clusterWhat);
  const cert = material(user, 'client-certificate', dir, userWhat);
  const key = material(user, 'client-key', dir, userWhat);
  if (ca) t.ca = ca;
  if (cert) t.cert = cert;
  if (key) t.key = key;
  if (!cert !== !key) fail(`${userWhat} has a client certificate without a key, or a key without a certificate`);
  checkTls(t, where);

  const token = str(user.token);
  // "tokenFile" is the kubeconfig field; client-node reads "token-file".
  const tokenFile = str(user.tokenFile) ?? str(user['token-file']);
  const username = str(user.username);
  if ((token !== undefined || tokenFile !== undefined) && username !== undefined) {
    fail(`${userWhat} has both a token and a username/password (kubectl refuses that too)`);
  }
  let auth: KubeAuth = { kind: 'none' };
  // client-go: a tokenFile is re-read and wins over an inline token.
  if (tokenFile !== undefined) auth = { kind: 'token-file', tokens: new TokenFile(path.resolve(dir, tokenFile), tokenMaxAgeMs, `tokenFile of ${userWhat}`) };
  else if (token !== undefined) auth = { kind: 'token', token };
  else if (username !== undefined) auth = { kind: 'basic', username, password: typeof user.password === 'string' ? user.password : '' };

  const as = str(user.as);
  const asUid = str(user['as-uid']);
  const asGroups = Array.isArray(user['as-groups']) ? user['as-groups'].filter((g): g is string => typeof g === 'string') : [];
  const impersonate = as !== undefined || asUid !== undefined || asGroups.length > 0
    ? { ...(as !== undefined && { user: as }), ...(asUid !== undefined && { uid: asUid }), ...(asGroups.length > 0 && { groups: asGroups }) }
    : undefined;
  return { server, source, tls: t, auth, ...(impersonate && { impersonate }) };
}

export interface BuildOptions {
  /** How old a token file's copy may get before it is re-read. Default 60 s (TOKEN_FILE_MAX_AGE_MS). */
  tokenMaxAgeMs?: number;
}

/** Resolves a connection, reading its files; throws ClusterDnsError(KUBE_CONFIG) on any problem. */
export function buildKubeConfig(conn: KubeConnection = { mode: 'in-cluster' }, opts: BuildOptions = {}): KubeClientConfig {
  const tokenMaxAgeMs = opts.tokenMaxAgeMs ?? TOKEN_FILE_MAX_AGE_MS;
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
      const server = checkServer(`https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`, 'KUBERNETES_SERVICE_HOST/PORT');
      const t = checkTls({ ca: readFile(caFile, 'service account CA'), insecureSkipTLSVerify: false }, caFile);
      return { server, source: 'in-cluster', tls: t, auth: { kind: 'token-file', tokens: new TokenFile(tokenFile, tokenMaxAgeMs, 'service account token') } };
    }
    case 'kubeconfig':
      return fromKubeconfig(conn, tokenMaxAgeMs);
    case 'endpoint': {
      const server = checkServer(conn.url, 'endpoint');
      const plain = server.startsWith('http:');
      const t: TlsSettings = { insecureSkipTLSVerify: false };
      if (conn.tls) {
        if (plain) fail(`"tls" needs an https:// endpoint, not ${conn.url}`);
        t.ca = readFile(readable(conn.tls.caFile, 'tls CA certificate'), 'tls CA certificate');
        t.cert = readFile(readable(conn.tls.certFile, 'tls client certificate'), 'tls client certificate');
        t.key = readFile(readable(conn.tls.keyFile, 'tls client key'), 'tls client key');
        checkTls(t, 'endpoint tls');
      }
      return { server, source: 'endpoint', tls: t, auth: { kind: 'none' } };
    }
  }
}

// ---- requests ----------------------------------------------------------------------------------

/** `p`, or a rejection when `signal` aborts or `ms` pass first. */
function bounded<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined, timeoutMessage: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (err: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err === null) resolve(value as T);
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onAbort = (): void => settle(signal?.reason ?? new Error('aborted'));
    const timer = setTimeout(() => settle(new Error(timeoutMessage)), ms);
    signal?.addEventListener('abort', onAbort);
    p.then((v) => settle(null, v), (e: unknown) => settle(e ?? new Error('failed')));
  });
}

export interface RequestOptions {
  /** Without response headers for this long, the request is destroyed with a "no response" error. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * GET requests to one API server. Keeps its connections alive between requests (list pages, the
 * watch after a list) and retries once, at once, a request that found its reused connection closed
 * by the server. close() ends the idle ones. Not for `client-node` auth (exec, auth-provider,
 * proxy-url): the library builds each request's options and agent, so each gets a connection of
 * its own.
 */
export class KubeClient {
  private readonly agent: http.Agent;

  constructor(readonly config: KubeClientConfig) {
    const t = config.tls;
    this.agent = config.server.startsWith('https:')
      ? new https.Agent({
          keepAlive: true,
          ...(t.ca && { ca: t.ca }),
          ...(t.cert && { cert: t.cert }),
          ...(t.key && { key: t.key }),
          ...(t.serverName !== undefined && { servername: t.serverName }),
          rejectUnauthorized: !t.insecureSkipTLSVerify,
        })
      : new http.Agent({ keepAlive: true });
  }

  /** The headers every request carries, Authorization included (a token file may be re-read first). */
  async headers(): Promise<http.OutgoingHttpHeaders> {
    const c = this.config;
    const h: http.OutgoingHttpHeaders = { Accept: 'application/json', 'User-Agent': 'clusterdns' };
    const a = c.auth;
    if (a.kind === 'token') h.Authorization = `Bearer ${a.token}`;
    else if (a.kind === 'token-file') {
      const token = await a.tokens.get();
      if (token) h.Authorization = `Bearer ${token}`;
    } else if (a.kind === 'basic') h.Authorization = `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    if (c.impersonate?.user !== undefined) h['Impersonate-User'] = c.impersonate.user;
    if (c.impersonate?.uid !== undefined) h['Impersonate-Uid'] = c.impersonate.uid;
    if (c.impersonate?.groups) h['Impersonate-Group'] = c.impersonate.groups;
    return h;
  }

  /** GET server+path?query; resolves with the response once its headers have arrived (any status). */
  async get(path: string, query: Record<string, string>, o: RequestOptions): Promise<http.IncomingMessage> {
    const url = new URL(this.config.server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const what = `GET ${url.pathname}${url.search}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(url, what, o);
      } catch (err) {
        // A kept-alive connection the server closed as we reused it: not the server's answer.
        if (attempt === 0 && (err as { reusedSocket?: boolean }).reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') continue;
        throw err;
      }
    }
  }

  private async once(url: URL, what: string, o: RequestOptions): Promise<http.IncomingMessage> {
    o.signal?.throwIfAborted();
    // The credentials are bounded like the response: an exec plugin that hangs must not hang the watch (or stop()).
    const late = `${what}: no credentials after ${o.timeoutMs} ms (request timeout)`;
    let options: https.RequestOptions;
    let ownAgent: http.Agent | undefined;
    if (this.config.auth.kind === 'client-node') {
      const pending = this.config.auth.library.requestOptions();
      let lib: https.RequestOptions;
      try {
        lib = await bounded(pending, o.timeoutMs, o.signal, late);
      } catch (err) {
        pending.then((l) => (l.agent as http.Agent | undefined)?.destroy(), () => undefined);
        throw err;
      }
      ownAgent = lib.agent instanceof http.Agent ? lib.agent : undefined;
      options = { ...lib, headers: { Accept: 'application/json', 'User-Agent': 'clusterdns', ...lib.headers } };
    } else {
      options = { agent: this.agent, headers: await bounded(this.headers(), o.timeoutMs, o.signal, late) };
    }
    o.signal?.throwIfAborted();
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(url, { ...options, method: 'GET', ...(o.signal && { signal: o.signal }) }, (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      const timer = setTimeout(() => req.destroy(new Error(`${what}: no response for ${o.timeoutMs} ms (request timeout)`)), o.timeoutMs);
      req.on('error', (err: Error) => {
        clearTimeout(timer);
        if (req.reusedSocket) (err as { reusedSocket?: boolean }).reusedSocket = true;
        reject(err);
      });
      // client-node's agent is one per request.
      if (ownAgent) req.on('close', () => ownAgent!.destroy());
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
