/**
 * The watch: lists and watches Namespaces, Services, EndpointSlices (and Pods) and feeds their slim
 * form to an ObjectSink. It knows nothing of DNS.
 *
 * One loop per kind, as client-go's reflector, over plain HTTP requests (kube-client.ts; not
 * @kubernetes/client-node, whose import alone costs ~73 MB of RSS):
 *
 * 1. List, paged (`limit` 500 and `continue`, as client-go). Each page's items are converted to
 *    slim objects as the page is parsed and delivered at once, so no more than a page of API
 *    objects is ever alive. What the sink holds from us is remembered as key → resourceVersion:
 *    on a re-list an object is delivered only when new ('add') or changed ('update'), and what
 *    the list no longer has is deleted at its end. A continue token that expires mid-list (410:
 *    older than the last compaction) restarts the list from the first page; if that expires too,
 *    one unpaged list, as client-go does.
 * 2. Watch from the list's resourceVersion with `allowWatchBookmarks` and a server-side
 *    `timeoutSeconds` of 5–10 minutes (as client-go). The body is newline-delimited JSON, split
 *    into lines as chunks arrive (a chunk may end mid-line or carry many lines); each object is
 *    converted as soon as its line is parsed. Every event and bookmark moves the resourceVersion
 *    on, objects outside `namespaces` included.
 * 3. A watch the server ends cleanly is resumed at once from the last resourceVersion, without a
 *    re-list. A 410 Gone (an HTTP status or an ERROR event, "Expired": the history was compacted)
 *    re-lists at once, unless it is for the RV a list has just returned (then it is a failure, and
 *    the lists that follow do not reset the backoff until a watch event arrives: no tight loop
 *    against such a server). Everything else is a failure: a list or watch error, a refused or reset
 *    connection, a stream cut mid-way, an ERROR event other than 410, a stream the server closes
 *    within 1 s without a line (a server in trouble would get a tight loop). After a failure the
 *    loop waits a capped exponential backoff with jitter and tries again: a watch resumes from its
 *    last resourceVersion if it has one (so an outage costs no re-list), a list starts over. The
 *    sink keeps the last state throughout: DNS answers from it during an API outage.
 * 4. Timeouts: a request without response headers for `requestTimeoutMs` is aborted, and so is a
 *    list whose body stops moving for that long (a slow but moving list of 100k objects is fine);
 *    a watch that has produced no line, bookmarks included, for `idleTimeoutMs` (a frozen server,
 *    a half-open TCP connection) is ended and resumed. stop() ends a request in flight at once.
 * 5. The sink is called from inside the loop; an exception there is caught, logged and counted,
 *    and the loop goes on.
 * 6. A kind is synced once its first list has been delivered; the handle is synced when every
 *    kind is.
 *
 * Selectors as CoreDNS uses them: `labelSelector` on Services, EndpointSlices and Pods,
 * `namespaceLabelSelector` on Namespaces (only matching Namespaces reach the sink; what that means
 * for the objects in other namespaces is the record store's business), and Pods that have
 * terminated (Succeeded, Failed, Unknown) are filtered by the server. `namespaces` is applied here,
 * on a cluster-wide watch: objects of other namespaces are dropped before conversion.
 */
import type http from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import type {
  ObjectKind,
  ObjectSink,
  SlimEndpointSlice,
  SlimNamespace,
  SlimPod,
  SlimService,
} from '../objects.js';
import { KubeClient, type KubeClientConfig } from './kube-client.js';
import { toSlimEndpointSlice, toSlimNamespace, toSlimPod, toSlimService } from './slim.js';

export type WatchOp = 'add' | 'update' | 'delete';

export interface WatchOptions {
  /** From buildKubeConfig() (kube-client.ts). */
  kubeConfig: KubeClientConfig;
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
  /** Items per list page. Default 500 (as client-go); 0 lists unpaged. */
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

/** A non-2xx answer, or an ERROR event, from the API server. */
export class KubeApiError extends Error {
  constructor(readonly statusCode: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
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

/** A watch line longer than this (the API server's objects are at most ~1.5 MB) ends the watch. */
const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** An object or an array (what JSON.parse gives for anything but a scalar). */
const isObjectLike = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
const is2xx = (res: http.IncomingMessage): boolean => (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;

/** The whole body; `timeoutMs` bounds every wait for the next chunk. */
function readBody(res: http.IncomingMessage, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        res.destroy();
        reject(err);
      } else {
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new Error(`${what}: no response for ${timeoutMs} ms (request timeout)`)), timeoutMs);
    };
    arm();
    res.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    res.on('end', () => finish(null));
    res.on('error', (e) => finish(e));
    res.on('close', () => finish(new Error(`${what}: connection closed during the response`)));
  });
}

/** A non-2xx response as a KubeApiError, with the Status message when the body is one. */
async function apiError(res: http.IncomingMessage, what: string, timeoutMs: number): Promise<KubeApiError> {
  const status = res.statusCode ?? 0;
  let st: Record<string, unknown> = {};
  try {
    const body: unknown = JSON.parse(await readBody(res, what, timeoutMs));
    if (isObjectLike(body)) st = body;
  } catch {
    /* not a Status */
  }
  return new KubeApiError(
    status || 500,
    typeof st.reason === 'string' ? st.reason : res.statusMessage ?? '',
    `${what}: ${status} ${typeof st.message === 'string' ? st.message : res.statusMessage ?? 'invalid response'}`,
  );
}

class ContinueExpired extends Error {}

/** An object's identity as the watch keys it; null when nameless or outside `namespaces`. */
interface Id {
  key: string;
  namespace: string;
  name: string;
  /** '' when absent (then every version counts as a change). */
  rv: string;
}

// ---- one kind ----------------------------------------------------------------------------------

class KindWatch {
  readonly kind: ObjectKind;
  synced = false;
  private stopped = false;
  /** Where the next watch starts; undefined: list first. */
  private rv: string | undefined;
  /** `rv` came straight from a list: no watch event since. */
  private fromList = false;
  /** The last watch got 410 for a list's RV: until a watch event arrives, a list does not reset the backoff. */
  private goneLoop = false;
  /** What the sink holds from this kind: namespace/name → resourceVersion. */
  private readonly known = new Map<string, string>();
  /** Consecutive failures: the backoff exponent. */
  private failures = 0;
  /** The request in flight. */
  private attempt: AbortController | undefined;
  /** Ends a backoff wait early (stop). */
  private wake: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();
  private lastLogAt = -Infinity;
  private suppressed = 0;
  private loggedSinceRecovery = false;
  private readonly log: Logger;
  private readonly selectors: Record<string, string> = {};

  constructor(
    private readonly spec: KindSpec,
    private readonly client: KubeClient,
    private readonly o: WatchOptions,
    private readonly t: Tuning,
    private readonly namespaces: ReadonlySet<string> | undefined,
    private readonly onSynced: () => void,
  ) {
    this.kind = spec.kind;
    this.log = o.logger.child({ kind: spec.kind });
    if (spec.labelSelector) this.selectors.labelSelector = spec.labelSelector;
    if (spec.fieldSelector) this.selectors.fieldSelector = spec.fieldSelector;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.attempt?.abort(new Error('watch stopped'));
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.rv === undefined) await this.list();
        if (this.stopped) return;
        if (!this.synced) {
          this.synced = true;
          this.onSynced();
        }
        if ((await this.watch()) === 'relist') {
          this.rv = undefined;
          // A server that answers 410 to the RV it has just listed would otherwise get a tight list/watch loop.
          if (this.fromList) {
            this.goneLoop = true;
            throw new Error(`watch ${this.spec.path}: 410 Gone for the resourceVersion the list has just returned`);
          }
        }
      } catch (err) {
        if (this.stopped) return;
        await this.sleep(this.failed(err));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** One GET with its own abort controller, registered so that stop() ends it. */
  private async request<T>(query: Record<string, string>, use: (res: http.IncomingMessage, what: string, ac: AbortController) => Promise<T>): Promise<T> {
    if (this.stopped) throw new Error('watch stopped');
    const ac = new AbortController();
    this.attempt = ac;
    const what = `GET ${this.spec.path}?${new URLSearchParams(query).toString()}`;
    try {
      const res = await this.client.get(this.spec.path, query, { timeoutMs: this.t.requestTimeoutMs, signal: ac.signal });
      return await use(res, what, ac);
    } finally {
      if (this.attempt === ac) this.attempt = undefined;
    }
  }

  // -- list --

  private async list(): Promise<void> {
    try {
      await this.listPages(this.t.pageSize);
    } catch (err) {
      if (!(err instanceof ContinueExpired)) throw err;
      this.log.info(`plugin/kubernetes: ${this.kind} list: ${err.message}; listing again from the start`);
      try {
        await this.listPages(this.t.pageSize);
      } catch (err2) {
        if (!(err2 instanceof ContinueExpired)) throw err2;
        await this.listPages(0);
      }
    }
    if (!this.goneLoop) this.healthy();
  }

  private async listPages(limit: number): Promise<void> {
    const seen = new Set<string>();
    let resourceVersion: string | undefined;
    let cont = '';
    do {
      const q: Record<string, string> = { ...this.selectors };
      if (limit > 0) q.limit = String(limit);
      if (cont) q.continue = cont;
      let page: unknown;
      try {
        page = await this.request(q, async (res, what) => {
          if (!is2xx(res)) throw await apiError(res, what, this.t.requestTimeoutMs);
          const text = await readBody(res, what, this.t.requestTimeoutMs);
          try {
            return JSON.parse(text) as unknown;
          } catch {
            throw new Error(`${what}: the list is not JSON`);
          }
        });
      } catch (err) {
        if (cont && err instanceof KubeApiError && err.statusCode === 410) throw new ContinueExpired(err.message);
        throw err;
      }
      if (!isObjectLike(page) || !Array.isArray(page.items)) throw new Error(`GET ${this.spec.path}: the list has no items array`);
      const items = page.items as unknown[];
      for (let i = 0; i < items.length; i++) {
        this.listed(items[i], seen);
        items[i] = null; // the API object is garbage as soon as it is converted
      }
      const meta = isObjectLike(page.metadata) ? page.metadata : {};
      // Every page is served at the first page's RV.
      if (resourceVersion === undefined && typeof meta.resourceVersion === 'string') resourceVersion = meta.resourceVersion;
      cont = typeof meta.continue === 'string' ? meta.continue : '';
    } while (cont);
    // What the sink holds from us and the list no longer has.
    for (const key of this.known.keys()) {
      if (seen.has(key)) continue;
      this.known.delete(key);
      const slash = key.indexOf('/');
      this.deliverDelete(key.slice(0, slash), key.slice(slash + 1));
    }
    this.rv = resourceVersion ?? '';
    this.fromList = true;
  }

  private listed(o: unknown, seen: Set<string>): void {
    const id = this.identify(o);
    if (!id) return;
    const prev = this.known.get(id.key);
    // Unchanged since we delivered it (`known` holds only objects that converted): a re-list after
    // a 410 costs a map lookup per object, not a conversion.
    if (prev !== undefined && prev === id.rv && id.rv !== '') {
      seen.add(id.key);
      return;
    }
    const slim = this.spec.convert(o);
    // An object that no longer converts (a slice that lost its service label) is not "seen": it leaves the sink.
    if (slim === null) return;
    seen.add(id.key);
    this.known.set(id.key, id.rv);
    this.deliverUpsert(prev === undefined ? 'add' : 'update', id, slim, false);
  }

  // -- watch --

  private watch(): Promise<'resume' | 'relist'> {
    const q: Record<string, string> = {
      ...this.selectors,
      watch: 'true',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
    };
    if (this.rv) q.resourceVersion = this.rv;
    const openedAt = Date.now();
    return this.request(q, async (res, what, ac) => {
      if (!is2xx(res)) {
        const err = await apiError(res, what, this.t.requestTimeoutMs);
        if (err.statusCode === 410) return 'relist';
        throw err;
      }
      return this.stream(res, ac, openedAt);
    });
  }

  /** Reads the watch's JSON lines until the stream ends; resolves with what to do next. */
  private stream(res: http.IncomingMessage, ac: AbortController, openedAt: number): Promise<'resume' | 'relist'> {
    const path = this.spec.path;
    const idleTimeoutMs = this.t.idleTimeoutMs;
    return new Promise((resolve, reject) => {
      const decoder = new StringDecoder('utf8');
      let buf = '';
      let lines = 0;
      let lastLine = Date.now();
      let done = false;
      let idleTimer: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, outcome: 'resume' | 'relist' = 'resume'): void => {
        if (done) return;
        done = true;
        clearTimeout(idleTimer);
        ac.signal.removeEventListener('abort', onAbort);
        if (err) {
          res.destroy();
          reject(err);
        } else {
          if (outcome === 'relist') res.destroy();
          resolve(outcome);
        }
      };
      const onAbort = (): void => finish(toError(ac.signal.reason));
      ac.signal.addEventListener('abort', onAbort);
      const check = (): void => {
        const quiet = Date.now() - lastLine;
        if (quiet >= idleTimeoutMs) finish(new Error(`watch ${path} silent for ${quiet} ms`));
        else idleTimer = setTimeout(check, idleTimeoutMs - quiet);
      };
      idleTimer = setTimeout(check, idleTimeoutMs);

      /** One line; false when the watch is over. */
      const line = (text: string): boolean => {
        if (text.trim() === '') return true;
        lines++;
        lastLine = Date.now();
        let ev: unknown;
        try {
          ev = JSON.parse(text);
        } catch {
          finish(new Error(`watch ${path}: not a JSON event: ${text.slice(0, 80)}`));
          return false;
        }
        try {
          const next = this.event(ev);
          if (next === 'relist') {
            finish(null, 'relist');
            return false;
          }
        } catch (err) {
          finish(toError(err));
          return false;
        }
        return true;
      };

      res.on('data', (chunk: Buffer) => {
        if (done) return;
        const from = buf.length;
        buf += decoder.write(chunk);
        let start = 0;
        for (let nl = buf.indexOf('\n', from); nl !== -1; nl = buf.indexOf('\n', start)) {
          const ok = line(buf.slice(start, nl));
          start = nl + 1;
          if (!ok || done) return;
        }
        buf = start === 0 ? buf : buf.slice(start);
        if (buf.length > MAX_LINE_CHARS) finish(new Error(`watch ${path}: a line longer than ${MAX_LINE_CHARS} characters`));
      });
      res.on('end', () => {
        if (done) return;
        const rest = buf + decoder.end();
        buf = '';
        if (rest && !line(rest)) return;
        if (lines === 0 && Date.now() - openedAt < 1000) finish(new Error(`watch ${path} closed by the server before sending anything`));
        else finish(null);
      });
      res.on('error', (e) => finish(e));
      res.on('close', () => finish(new Error(`watch ${path}: connection closed during the response`)));
    });
  }

  /** One watch event; 'relist' after a 410. Throws (ends the watch as a failure) on any other ERROR. */
  private event(ev: unknown): 'relist' | undefined {
    const e = isObjectLike(ev) ? ev : {};
    const type = e.type;
    const obj = e.object;
    if (type === 'ERROR') {
      const st = isObjectLike(obj) ? obj : {};
      const code = typeof st.code === 'number' ? st.code : 500;
      if (code === 410) return 'relist';
      throw new KubeApiError(code, String(st.reason ?? ''), `watch ${this.spec.path}: ERROR ${code} ${String(st.message ?? '')}`);
    }
    this.healthy();
    this.fromList = false;
    this.goneLoop = false;
    if (type === 'ADDED' || type === 'MODIFIED') {
      const id = this.identify(obj);
      if (id) {
        const slim = this.spec.convert(obj);
        const prev = this.known.get(id.key);
        if (slim === null) {
          if (prev !== undefined) {
            this.known.delete(id.key);
            this.deliverDelete(id.namespace, id.name);
          }
        } else if (prev === undefined || prev !== id.rv || id.rv === '') {
          this.known.set(id.key, id.rv);
          this.deliverUpsert(prev === undefined ? 'add' : 'update', id, slim, true);
        }
      }
    } else if (type === 'DELETED') {
      const id = this.identify(obj);
      if (id && this.known.delete(id.key)) this.deliverDelete(id.namespace, id.name);
    }
    // Every event moves the RV on, bookmarks and objects of other namespaces included.
    const meta = isObjectLike(obj) && isObjectLike(obj.metadata) ? obj.metadata : undefined;
    if (meta && typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') this.rv = meta.resourceVersion;
    return undefined;
  }

  private identify(o: unknown): Id | null {
    const meta = isObjectLike(o) && isObjectLike(o.metadata) ? o.metadata : undefined;
    const name = meta && typeof meta.name === 'string' ? meta.name : '';
    if (!name) return null;
    const namespace = this.kind === 'Namespace' ? '' : typeof meta?.namespace === 'string' ? meta.namespace : '';
    if (this.namespaces && !this.namespaces.has(this.kind === 'Namespace' ? name : namespace)) return null;
    const rv = typeof meta?.resourceVersion === 'string' ? meta.resourceVersion : '';
    return { key: `${namespace}/${name}`, namespace, name, rv };
  }

  // -- delivery --

  private deliverUpsert(op: 'add' | 'update', id: Id, slim: AnySlim, live: boolean): void {
    if (this.stopped) return;
    if (!this.toSink(() => this.spec.upsert(this.o.sink, slim), id.namespace, id.name)) return;
    let lag: number | undefined;
    if (live && this.kind === 'EndpointSlice') {
      const t = (slim as SlimEndpointSlice).lastChangeTriggerTime;
      if (t !== undefined) lag = Math.max(0, Date.now() - t);
    }
    this.o.onEvent?.(this.kind, op, lag);
  }

  private deliverDelete(namespace: string, name: string): void {
    if (this.stopped) return;
    if (!this.toSink(() => this.spec.remove(this.o.sink, namespace, name), namespace, name)) return;
    this.o.onEvent?.(this.kind, 'delete', undefined);
  }

  private toSink(call: () => void, namespace: string, name: string): boolean {
    try {
      call();
      return true;
    } catch (err) {
      const e = toError(err);
      this.o.onError?.(this.kind, e);
      this.log.error({ err: e, namespace, name }, `plugin/kubernetes: the sink failed on ${this.kind} ${namespace}/${name}: ${e.message}`);
      return false;
    }
  }

  // -- failure and recovery --

  /** Something came from the server: the backoff starts over. */
  private healthy(): void {
    if (this.failures === 0) return;
    if (this.loggedSinceRecovery) {
      this.log.info({ failures: this.failures, suppressed: this.suppressed }, `plugin/kubernetes: ${this.kind} watch recovered`);
      this.loggedSinceRecovery = false;
    }
    this.failures = 0;
  }

  /** Counts and (sparingly) logs a failure; returns the delay before the next attempt. */
  private failed(err: unknown): number {
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
    return delay;
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
  const client = new KubeClient(opts.kubeConfig);
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
  for (const spec of kindSpecs(opts)) kinds.push(new KindWatch(spec, client, opts, t, namespaces, onSynced));
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
      client.close();
      for (const w of waiters) w.reject(new Error('watch stopped before the initial sync'));
      waiters = [];
    },
  };
}
