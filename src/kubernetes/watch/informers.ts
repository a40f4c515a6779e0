/**
 * The watch: lists and watches Namespaces, Services, EndpointSlices (and Pods) and feeds their slim
 * form to an ObjectSink. It knows nothing of DNS.
 *
 * Built on @kubernetes/client-node 1.x's ListWatch, which does the list-then-watch cycle, keeps
 * a cache keyed by namespace/name, resumes a watch that ended cleanly from the last RV it saw
 * (bookmarks included), re-lists after a 410 (an ERROR event or an HTTP 410), and on a re-list emits
 * DELETE for cached objects missing from the new list and UPDATE only for changed resourceVersions.
 *
 * What 1.4.0 does not do, and what this file does about it:
 * 1. On any other failure (a list error, a refused or reset connection, an abrupt end of the stream
 *    "Premature close") ListWatch emits 'error' and stops for good. → Every 'error' schedules
 *    start() again after a capped exponential backoff with jitter. start() resumes the watch from
 *    the last RV when it has one, and re-lists only when it does not. The sink keeps its state.
 * 2. Its Watch has no request timeout: it builds AbortSignal.timeout(30000) and then overwrites the
 *    signal with its own controller, and it returns that controller only after the response headers
 *    arrive, so a server that accepts the request and never answers hangs start() (and stop())
 *    forever. → The Watch gets a KubeConfig whose fetch options carry node-fetch's `timeout`
 *    (a response-headers timeout) and whose HTTP agent we keep, so we can destroy its socket.
 * 3. A watch that is open but silent (a frozen server, a half-open TCP connection) is never noticed.
 *    → The watch asks for bookmarks (allowWatchBookmarks, which ListWatch never sets) and a
 *    server-side timeoutSeconds of 5–10 minutes as client-go does; a watchdog ends a watch that
 *    has produced no line for `idleTimeoutMs`.
 * 4. An ERROR event other than 410 is ignored, and a stream the server closes at once is re-watched
 *    at once: a server in trouble gets a tight loop. → Those end the attempt as a failure (backoff).
 * 5. The list is ours (ListWatch takes any list function): paged (`limit`/`continue`, falling back
 *    to one unpaged list when a continue token expires), with the same request timeout, and items are
 *    converted to slim objects as they arrive. ListWatch's cache therefore holds small carriers
 *    ({metadata: name, namespace, resourceVersion; slim}), never the API objects (memory at 100k).
 * 6. The sink is called from inside ListWatch; an exception there would be swallowed (watch lines)
 *    or would break the list cycle. → Caught, logged and counted.
 *
 * makeInformer() is not used because it constructs its own Watch (no way to apply 2–4) and drops
 * the field selector; it is `new ListWatch(path, new Watch(kc), listFn, false, labelSelector)`.
 *
 * Selectors as CoreDNS uses them: `labelSelector` on Services, EndpointSlices and Pods,
 * `namespaceLabelSelector` on Namespaces (only matching Namespaces reach the sink; what that means
 * for the objects in other namespaces is the record store's business), and Pods that have
 * terminated (Succeeded, Failed, Unknown) are filtered by the server. `namespaces` is applied here,
 * on a cluster-wide watch: objects of other namespaces are dropped before conversion.
 */
import http from 'node:http';
import https from 'node:https';
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type {
  ObjectKind,
  ObjectSink,
  SlimEndpointSlice,
  SlimNamespace,
  SlimPod,
  SlimService,
} from '../objects.js';
import { toSlimEndpointSlice, toSlimNamespace, toSlimPod, toSlimService } from './slim.js';

export type WatchOp = 'add' | 'update' | 'delete';

export interface WatchOptions {
  kubeConfig: KubeConfig;
  sink: ObjectSink;
  watchPods: boolean;
  labelSelector?: string;
  namespaceLabelSelector?: string;
  /** Only these namespaces (empty or absent: all). */
  namespaces?: string[];
  logger: Logger;
  /**
   * After each change delivered to the sink. `lagMs` is now minus the EndpointSlice's
   * last-change-trigger-time, for slices that carry it and arrived on a live watch (not from a list,
   * whose trigger times can be hours old); undefined otherwise.
   */
  onEvent?(kind: ObjectKind, op: WatchOp, lagMs: number | undefined): void;
  /** Every failed list/watch attempt (and every sink exception). */
  onError?(kind: ObjectKind, err: Error): void;
  /** A request without response headers (a list: without a byte of body) for this long is aborted. Default 30 s. */
  requestTimeoutMs?: number;
  /** A watch that produced no line, bookmarks included, for this long is ended and resumed. Default 120 s. */
  idleTimeoutMs?: number;
  /** First retry delay after a failure; doubles per consecutive failure up to backoffMaxMs. Default 500 ms. */
  backoffInitialMs?: number;
  /** Default 30 s. */
  backoffMaxMs?: number;
  /** Items per list page. Default 500 (as client-go). */
  pageSize?: number;
  /** At most one failure log line per kind per interval; the rest are counted. Default 30 s. */
  errorLogIntervalMs?: number;
}

export interface WatchHandle {
  /** True once the first full list of every watched kind has been delivered to the sink. */
  hasSynced(): boolean;
  /** Resolves when hasSynced() becomes true; rejects if the watch is stopped before that. */
  whenSynced(): Promise<void>;
  /** Ends every request and timer. The sink keeps what it has. */
  stop(): Promise<void>;
}

/** A non-2xx answer, or an ERROR event, from the API server. `statusCode` as ListWatch expects it. */
export class KubeApiError extends Error {
  constructor(readonly statusCode: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** What ListWatch caches for us instead of the API object. */
interface Carrier {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  slim: AnySlim | null;
  /** Came from a watch event (not a list). */
  live: boolean;
}
type AnySlim = SlimService | SlimEndpointSlice | SlimNamespace | SlimPod;

interface KindSpec {
  kind: ObjectKind;
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  convert(o: unknown): AnySlim | null;
  upsert(sink: ObjectSink, s: AnySlim): void;
  remove(sink: ObjectSink, namespace: string, name: string): void;
}

const TERMINATED_PODS = 'status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown';

function kindSpecs(o: WatchOptions): KindSpec[] {
  const sel = o.labelSelector || undefined;
  const specs: KindSpec[] = [
    {
      kind: 'Namespace', path: '/api/v1/namespaces', labelSelector: o.namespaceLabelSelector || undefined,
      convert: toSlimNamespace,
      upsert: (sink, s) => sink.upsertNamespace(s as SlimNamespace),
      remove: (sink, _ns, name) => sink.deleteNamespace(name),
    },
    {
      kind: 'Service', path: '/api/v1/services', labelSelector: sel,
      convert: toSlimService,
      upsert: (sink, s) => sink.upsertService(s as SlimService),
      remove: (sink, ns, name) => sink.deleteService(ns, name),
    },
    {
      kind: 'EndpointSlice', path: '/apis/discovery.k8s.io/v1/endpointslices', labelSelector: sel,
      convert: toSlimEndpointSlice,
      upsert: (sink, s) => sink.upsertEndpointSlice(s as SlimEndpointSlice),
      remove: (sink, ns, name) => sink.deleteEndpointSlice(ns, name),
    },
  ];
  if (o.watchPods) {
    specs.push({
      kind: 'Pod', path: '/api/v1/pods', labelSelector: sel, fieldSelector: TERMINATED_PODS,
      convert: toSlimPod,
      upsert: (sink, s) => sink.upsertPod(s as SlimPod),
      remove: (sink, ns, name) => sink.deletePod(ns, name),
    });
  }
  return specs;
}

interface Tuning {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  pageSize: number;
  errorLogIntervalMs: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

// ---- one GET, for list pages -------------------------------------------------------------------

/**
 * GET a JSON document with the KubeConfig's credentials and TLS agent. The timer covers the wait for
 * the response headers and every gap between body chunks, so a slow but moving list of 100k objects
 * is fine and a stalled one is not.
 */
async function getJson(kc: KubeConfig, path: string, query: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const fo = await kc.applyToFetchOptions({});
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'clusterdns' };
  const h = fo.headers as { forEach?(cb: (value: string, key: string) => void): void } | undefined;
  h?.forEach?.((value, key) => {
    headers[key] = value;
  });
  const agent = fo.agent as http.Agent | undefined;
  const what = `GET ${url.pathname}${url.search}`;
  try {
    return await new Promise<unknown>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (err: Error | null, value?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value);
      };
      const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'GET', agent, headers, signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          arm();
        });
        res.on('error', (e) => settle(e));
        res.on('aborted', () => settle(new Error(`${what}: connection closed during the response`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && body !== undefined) return settle(null, body);
          const st = isObj(body) ? body : {};
          settle(new KubeApiError(
            status || 500,
            typeof st.reason === 'string' ? st.reason : res.statusMessage ?? '',
            `${what}: ${status} ${typeof st.message === 'string' ? st.message : res.statusMessage ?? 'invalid response'}`,
          ));
        });
      });
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => req.destroy(new Error(`${what}: no response for ${timeoutMs} ms`)), timeoutMs);
      };
      arm();
      req.on('error', (e) => settle(e));
      req.end();
    });
  } finally {
    agent?.destroy();
  }
}

// ---- one kind ----------------------------------------------------------------------------------

class KindWatch {
  readonly kind: ObjectKind;
  synced = false;
  private readonly informer: ListWatch<Carrier>;
  private listed = false;
  private stopped = false;
  /** Consecutive failures: the backoff exponent. */
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Abort the list or watch attempt in flight. */
  private abortCurrent: ((err: Error) => void) | undefined;
  private running: Promise<void> = Promise.resolve();
  private lastLogAt = -Infinity;
  private suppressed = 0;
  private loggedSinceRecovery = false;
  private readonly log: Logger;

  constructor(
    private readonly spec: KindSpec,
    private readonly o: WatchOptions,
    private readonly t: Tuning,
    private readonly namespaces: ReadonlySet<string> | undefined,
    private readonly onSynced: () => void,
  ) {
    this.kind = spec.kind;
    this.log = o.logger.child({ kind: spec.kind });
    const transport = new GuardedWatch(o.kubeConfig, this);
    this.informer = new ListWatch<Carrier>(spec.path, transport, () => this.list(), false, spec.labelSelector, spec.fieldSelector);
    this.informer.on('add', (c) => this.deliver('add', c));
    this.informer.on('update', (c) => this.deliver('update', c));
    this.informer.on('delete', (c) => this.deliver('delete', c));
    this.informer.on('error', (err) => this.failed(err));
  }

  start(): void {
    this.restartTimer = undefined;
    if (this.stopped) return;
    this.running = this.informer.start().catch((err) => this.failed(err));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.abortCurrent?.(new Error('watch stopped'));
    await this.informer.stop();
    await this.running;
  }

  // -- list --

  private async list(): Promise<KubernetesListObject<Carrier>> {
    const ac = new AbortController();
    const abort = (err: Error): void => ac.abort(err);
    this.abortCurrent = abort;
    try {
      let result: KubernetesListObject<Carrier>;
      try {
        result = await this.listPages(ac.signal, this.t.pageSize);
      } catch (err) {
        // A continue token older than the last compaction: one unpaged list, as client-go does.
        if (!(err instanceof ContinueExpired)) throw err;
        result = await this.listPages(ac.signal, 0);
      }
      this.listed = true;
      this.healthy();
      return result;
    } finally {
      if (this.abortCurrent === abort) this.abortCurrent = undefined;
    }
  }

  private async listPages(signal: AbortSignal, limit: number): Promise<KubernetesListObject<Carrier>> {
    const items: Carrier[] = [];
    let resourceVersion = '';
    let cont = '';
    do {
      if (this.stopped) throw new Error('watch stopped');
      const q: Record<string, string> = {};
      if (this.spec.labelSelector) q.labelSelector = this.spec.labelSelector;
      if (this.spec.fieldSelector) q.fieldSelector = this.spec.fieldSelector;
      if (limit > 0) q.limit = String(limit);
      if (cont) q.continue = cont;
      let page: unknown;
      try {
        page = await getJson(this.o.kubeConfig, this.spec.path, q, this.t.requestTimeoutMs, signal);
      } catch (err) {
        if (cont && err instanceof KubeApiError && err.statusCode === 410) throw new ContinueExpired(err.message);
        throw err;
      }
      if (!isObj(page) || !Array.isArray(page.items)) throw new Error(`GET ${this.spec.path}: the list has no items array`);
      for (const item of page.items) {
        const c = this.carrier(item, false);
        if (c) items.push(c);
      }
      const meta = isObj(page.metadata) ? page.metadata : {};
      // Every page is served at the first page's RV.
      if (!resourceVersion && typeof meta.resourceVersion === 'string') resourceVersion = meta.resourceVersion;
      cont = typeof meta.continue === 'string' ? meta.continue : '';
    } while (cont);
    return { metadata: { resourceVersion }, items };
  }

  // -- watch (called by GuardedWatch) --

  /** The watch is about to start: the list before it, if there was one, has been delivered. */
  watchStarting(): void {
    if (this.listed && !this.synced) {
      this.synced = true;
      this.onSynced();
    }
  }

  setAbort(abort: ((err: Error) => void) | undefined): void {
    this.abortCurrent = abort;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get tuning(): Tuning {
    return this.t;
  }

  /** An API object → what ListWatch caches; null when it is outside `namespaces` or nameless. */
  carrier(o: unknown, live: boolean): Carrier | null {
    const meta = isObj(o) && isObj(o.metadata) ? o.metadata : undefined;
    const name = meta && typeof meta.name === 'string' ? meta.name : '';
    if (!name) return null;
    const namespace = typeof meta?.namespace === 'string' ? meta.namespace : undefined;
    if (this.namespaces && !this.namespaces.has(this.kind === 'Namespace' ? name : namespace ?? '')) return null;
    const resourceVersion = typeof meta?.resourceVersion === 'string' ? meta.resourceVersion : undefined;
    return {
      metadata: { name, ...(namespace !== undefined && { namespace }), ...(resourceVersion !== undefined && { resourceVersion }) },
      slim: this.spec.convert(o),
      live,
    };
  }

  // -- delivery --

  private deliver(op: WatchOp, c: Carrier): void {
    if (this.stopped) return;
    const namespace = c.metadata.namespace ?? '';
    try {
      if (op === 'delete' || c.slim === null) {
        // An object that no longer converts (a slice that lost its service label) leaves the sink.
        if (op === 'add') return;
        op = 'delete';
        this.spec.remove(this.o.sink, namespace, c.metadata.name);
      } else {
        this.spec.upsert(this.o.sink, c.slim);
      }
    } catch (err) {
      const e = toError(err);
      this.o.onError?.(this.kind, e);
      this.log.error({ err: e, namespace, name: c.metadata.name }, `plugin/kubernetes: the sink failed on ${this.kind} ${namespace}/${c.metadata.name}: ${e.message}`);
      return;
    }
    let lag: number | undefined;
    if (op !== 'delete' && c.live && this.kind === 'EndpointSlice') {
      const t = (c.slim as SlimEndpointSlice).lastChangeTriggerTime;
      if (t !== undefined) lag = Math.max(0, Date.now() - t);
    }
    this.o.onEvent?.(this.kind, op, lag);
  }

  // -- failure and recovery --

  /** Something came from the server: the backoff starts over. */
  healthy(): void {
    if (this.failures === 0) return;
    if (this.loggedSinceRecovery) {
      this.log.info({ failures: this.failures, suppressed: this.suppressed }, `plugin/kubernetes: ${this.kind} watch recovered`);
      this.loggedSinceRecovery = false;
    }
    this.failures = 0;
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    const e = toError(err);
    this.failures++;
    this.o.onError?.(this.kind, e);
    const exp = Math.min(this.t.backoffMaxMs, this.t.backoffInitialMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = Math.round(exp / 2 + (Math.random() * exp) / 2);
    const now = Date.now();
    if (now - this.lastLogAt >= this.t.errorLogIntervalMs) {
      this.log.warn(
        { err: e, failures: this.failures, suppressed: this.suppressed, retryInMs: delay },
        `plugin/kubernetes: ${this.kind} list/watch failed: ${e.message}`,
      );
      this.lastLogAt = now;
      this.suppressed = 0;
      this.loggedSinceRecovery = true;
    } else {
      this.suppressed++;
    }
    if (this.restartTimer) return;
    this.restartTimer = setTimeout(() => this.start(), delay);
  }
}

class ContinueExpired extends Error {}

/**
 * The Watch ListWatch drives, wrapping client-node's own Watch per attempt (see 2–4 above).
 * ListWatch calls watch() once per attempt and expects `done` exactly once.
 */
class GuardedWatch extends Watch {
  constructor(private readonly kc: KubeConfig, private readonly k: KindWatch) {
    super(kc);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    const k = this.k;
    const { requestTimeoutMs, idleTimeoutMs } = k.tuning;
    let finished = false;
    let lines = 0;
    const openedAt = Date.now();
    let lastActivity = openedAt;
    let agent: http.Agent | undefined;
    let inner: AbortController | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idleTimer);
      k.setAbort(undefined);
      inner?.abort();
      agent?.destroy();
      if (!err && lines === 0 && Date.now() - openedAt < 1000 && !k.isStopped) {
        err = new Error(`watch ${path} closed by the server before sending anything`);
      }
      done(err ?? null);
    };
    // ListWatch aborts the controller we return when it stops or starts over.
    controller.signal.addEventListener('abort', () => finish(new Error('watch aborted')));
    if (k.isStopped) {
      queueMicrotask(() => finish(new Error('watch stopped')));
      return controller;
    }
    k.setAbort((err) => finish(err));
    k.watchStarting();

    const kc = this.kc;
    const config: KubeConfig = Object.create(kc) as KubeConfig;
    config.applyToFetchOptions = async (opts) => {
      const fetchOptions = await kc.applyToFetchOptions(opts);
      // Thrown before the library's fetch: nothing is opened for an attempt that already ended.
      if (finished) throw new Error('watch ended before it was opened');
      // node-fetch's own option: rejects when the response headers take longer than this.
      (fetchOptions as { timeout?: number }).timeout = requestTimeoutMs;
      agent = fetchOptions.agent as http.Agent | undefined;
      return fetchOptions;
    };
    const query = {
      ...queryParams,
      allowWatchBookmarks: true,
      timeoutSeconds: 300 + Math.floor(Math.random() * 300),
    };
    // ListWatch's handler is async: a throw inside it would be an unhandled rejection.
    const forward = (phase: string, obj: unknown): void => {
      try {
        const r: unknown = callback(phase, obj);
        if (r instanceof Promise) r.catch((err: unknown) => finish(err));
      } catch (err) {
        finish(err);
      }
    };
    const onLine = (phase: string, obj: unknown): void => {
      if (finished) return;
      lines++;
      lastActivity = Date.now();
      const o = isObj(obj) ? obj : {};
      if (phase === 'ERROR') {
        const code = typeof o.code === 'number' ? o.code : 500;
        // 410: ListWatch forgets its RV and re-lists when the server ends the stream.
        if (code === 410) return forward(phase, obj);
        return finish(new KubeApiError(code, String(o.reason ?? ''), `watch ${path}: ERROR ${code} ${String(o.message ?? '')}`));
      }
      k.healthy();
      switch (phase) {
        case 'ADDED':
        case 'MODIFIED':
        case 'DELETED': {
          const c = k.carrier(obj, true);
          if (c) return forward(phase, c);
          // Not ours (another namespace): still move the RV on, as a bookmark does.
          const rv = isObj(o.metadata) ? o.metadata.resourceVersion : undefined;
          if (typeof rv === 'string') forward('BOOKMARK', { metadata: { resourceVersion: rv } });
          return;
        }
        default:
          return forward(phase, obj);
      }
    };
    try {
      inner = await new Watch(config).watch(path, query, onLine, finish);
    } catch (err) {
      finish(err);
    }
    if (finished) {
      inner?.abort();
      return controller;
    }
    const check = (): void => {
      const idle = Date.now() - lastActivity;
      if (idle >= idleTimeoutMs) finish(new Error(`watch ${path} silent for ${idle} ms`));
      else idleTimer = setTimeout(check, idleTimeoutMs - idle);
    };
    idleTimer = setTimeout(check, idleTimeoutMs);
    return controller;
  }
}

// ---- the handle --------------------------------------------------------------------------------

export function startWatch(opts: WatchOptions): WatchHandle {
  const t: Tuning = {
    requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 120_000,
    backoffInitialMs: opts.backoffInitialMs ?? 500,
    backoffMaxMs: opts.backoffMaxMs ?? 30_000,
    pageSize: opts.pageSize ?? 500,
    errorLogIntervalMs: opts.errorLogIntervalMs ?? 30_000,
  };
  const namespaces = opts.namespaces?.length ? new Set(opts.namespaces) : undefined;
  let stopped = false;
  let waiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  const kinds: KindWatch[] = [];
  const synced = (): boolean => kinds.length > 0 && kinds.every((k) => k.synced);
  const onSynced = (): void => {
    if (!synced()) return;
    opts.logger.info({ kinds: kinds.map((k) => k.kind) }, 'plugin/kubernetes: initial sync done');
    for (const w of waiters) w.resolve();
    waiters = [];
  };
  for (const spec of kindSpecs(opts)) kinds.push(new KindWatch(spec, opts, t, namespaces, onSynced));
  for (const k of kinds) k.start();

  return {
    hasSynced: synced,
    whenSynced(): Promise<void> {
      if (synced()) return Promise.resolve();
      if (stopped) return Promise.reject(new Error('watch stopped before the initial sync'));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await Promise.all(kinds.map((k) => k.stop()));
      for (const w of waiters) w.reject(new Error('watch stopped before the initial sync'));
      waiters = [];
    },
  };
}
