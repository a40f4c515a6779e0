/**
 * A Kubernetes API test double on node:http: enough of kube-apiserver for a list/watch client
 * (Namespaces, Services, Pods, EndpointSlices), with the faults a watch must survive.
 *
 * What it does like the real server:
 * - one global integer resourceVersion; every create, update and delete bumps it, an identical
 *   re-apply does not;
 * - lists `{kind: XList, apiVersion, metadata: {resourceVersion, continue?, remainingItemCount?}, items}`
 *   with items in namespace/name order and without kind/apiVersion (as kube-apiserver sends them);
 *   `limit`/`continue` pages are all served from the snapshot at the first page's RV;
 * - watches are chunked JSON lines: no RV (or "0") sends a synthetic ADDED per object first, RV=N
 *   replays every event after N then streams live; an object that leaves the selector is sent as
 *   DELETED, one that enters it as ADDED; RV older than the retained history gets one ERROR event
 *   (Status 410 Expired) and a clean end; BOOKMARKs every `bookmarkMs` with allowWatchBookmarks;
 *   `timeoutSeconds` ends the stream cleanly;
 * - labelSelector (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and fieldSelector (`=`, `==`,
 *   `!=` on metadata.name, metadata.namespace and a few per-resource fields); bad ones get 400;
 * - Services get clusterIP/clusterIPs allocated (not headless "None", not ExternalName), and an
 *   update keeps the allocated address; Namespaces get the kubernetes.io/metadata.name label.
 *
 * Faults: dropWatches, compact, setOutage, injectFailure, hang. Paths under /_control/ are the
 * control API (stats, apply, remove, ...), never affected by faults.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify as yamlStringify } from 'yaml';

export type ResourceName = 'namespaces' | 'services' | 'pods' | 'endpointslices';
export type KindName = 'Namespace' | 'Service' | 'Pod' | 'EndpointSlice';

export interface KubeObject {
  apiVersion?: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface FakeKubeApiOptions {
  host?: string;
  port?: number;
  /** Objects present at start (they are applied, so they are in the history from RV 2 on). */
  objects?: KubeObject[];
  /** Interval of BOOKMARK events on watches that asked for them; 0 disables. Default 1000. */
  bookmarkMs?: number;
  /** Events kept for watch resumption; older RVs get 410. Default 10000. */
  historyLimit?: number;
  /** The resourceVersion before the first change. Default 1. */
  startResourceVersion?: number;
}

export interface InjectedFailure {
  status: number;
  /** How many matching requests fail; Infinity for all. Default 1. */
  count?: number;
  /** Substring of the path, or a RegExp on it. Default: every API path. */
  path?: string | RegExp;
  /** Only these verbs. Default: all. */
  verbs?: Array<'list' | 'watch' | 'get'>;
  message?: string;
}

export interface RequestRecord {
  verb: 'list' | 'watch' | 'get';
  resource: ResourceName;
  namespace?: string;
  resourceVersion?: string;
  continue?: boolean;
  limit?: number;
  labelSelector?: string;
  fieldSelector?: string;
  /** The status sent, or 0 when the request was held (hang) and never answered. */
  status: number;
  at: number;
}

export interface FakeKubeApiStats {
  resourceVersion: number;
  /** The oldest RV a watch can resume from. */
  oldestResumableResourceVersion: number;
  objects: Record<ResourceName, number>;
  lists: Record<ResourceName, number>;
  watches: Record<ResourceName, number>;
  gets: number;
  openWatches: number;
  heldRequests: number;
  failuresInjected: number;
  outageDrops: number;
  /** Every API request, oldest first (the last 2000). */
  requests: RequestRecord[];
}

export interface ApplyResult {
  resourceVersion: number;
  results: Array<{ kind: string; namespace: string; name: string; op: 'created' | 'updated' | 'unchanged' }>;
}

export interface FakeKubeApi {
  readonly url: string;
  readonly port: number;
  apply(obj: KubeObject | KubeObject[]): ApplyResult;
  /** Deletes the object (DELETED with its final state at a new RV). For Namespaces pass '' as ns. */
  remove(kind: KindName, namespace: string, name: string): boolean;
  get(kind: KindName, namespace: string, name: string): KubeObject | undefined;
  /** Destroys every open watch socket without a terminating chunk. */
  dropWatches(): void;
  /** Forgets the history and bumps the RV, so every RV handed out so far gets 410. */
  compact(): void;
  /** For `ms`, destroys every API connection (open watches at once, new requests on arrival). */
  setOutage(ms: number): Promise<void>;
  injectFailure(f: InjectedFailure): void;
  clearFailures(): void;
  /**
   * hang(true): new API requests are accepted and never answered, open watches freeze (no events,
   * no bookmarks) for good. hang(false): new requests are served again; what was held or frozen
   * stays so (it looks like dead connections to the client) until the client gives up on them.
   */
  hang(on: boolean): void;
  resourceVersion(): number;
  stats(): FakeKubeApiStats;
  waitForWatches(n: number, opts?: { resource?: ResourceName; timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

interface ResourceDef {
  resource: ResourceName;
  kind: KindName;
  apiVersion: string;
  prefix: '/api/v1' | '/apis/discovery.k8s.io/v1';
  namespaced: boolean;
  fields: Record<string, (o: KubeObject) => string>;
}

const get = (o: unknown, ...keys: string[]): unknown => {
  let cur = o;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
};
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

const metaFields = {
  'metadata.name': (o: KubeObject) => o.metadata.name,
  'metadata.namespace': (o: KubeObject) => str(o.metadata.namespace),
};

const RESOURCES: readonly ResourceDef[] = [
  {
    resource: 'namespaces', kind: 'Namespace', apiVersion: 'v1', prefix: '/api/v1', namespaced: false,
    fields: { ...metaFields, 'status.phase': (o) => str(get(o, 'status', 'phase')) },
  },
  {
    resource: 'services', kind: 'Service', apiVersion: 'v1', prefix: '/api/v1', namespaced: true,
    fields: {
      ...metaFields,
      'spec.clusterIP': (o) => str(get(o, 'spec', 'clusterIP')),
      'spec.type': (o) => str(get(o, 'spec', 'type')),
    },
  },
  {
    resource: 'pods', kind: 'Pod', apiVersion: 'v1', prefix: '/api/v1', namespaced: true,
    fields: {
      ...metaFields,
      'spec.nodeName': (o) => str(get(o, 'spec', 'nodeName')),
      'spec.hostNetwork': (o) => String(get(o, 'spec', 'hostNetwork') === true),
      'status.phase': (o) => str(get(o, 'status', 'phase')),
      'status.podIP': (o) => str(get(o, 'status', 'podIP')),
    },
  },
  {
    resource: 'endpointslices', kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1',
    prefix: '/apis/discovery.k8s.io/v1', namespaced: true, fields: { ...metaFields },
  },
];
const BY_KIND = new Map(RESOURCES.map((d) => [d.kind as string, d]));

// ---- selectors ---------------------------------------------------------------------------------

class BadRequest extends Error {}

type LabelReq =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

/** Splits on commas outside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((t) => t.trim());
}

const KEY = '[A-Za-z0-9][A-Za-z0-9._/-]*';
const VALUE = '[A-Za-z0-9._-]*';

export function parseLabelSelector(s: string): LabelReq[] {
  if (s.trim() === '') return [];
  return splitTerms(s).map((t): LabelReq => {
    let m = new RegExp(`^(!?)\\s*(${KEY})$`).exec(t);
    if (m) return { key: m[2]!, op: m[1] ? 'notexists' : 'exists' };
    m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(t);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) throw new BadRequest(`invalid label selector: ${s}`);
      return { key: m[1]!, op: m[2] === 'in' ? 'in' : 'notin', values };
    }
    m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(t);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]! };
    throw new BadRequest(`unable to parse requirement: invalid label selector: ${s}`);
  });
}

function labelsMatch(reqs: LabelReq[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq': return has && v === r.value;
      case 'neq': return !has || v !== r.value;
      case 'in': return has && r.values.includes(v!);
      case 'notin': return !has || !r.values.includes(v!);
      case 'exists': return has;
      case 'notexists': return !has;
    }
  });
}

interface FieldReq { field: string; neg: boolean; value: string }

function parseFieldSelector(s: string, def: ResourceDef): FieldReq[] {
  if (s.trim() === '') return [];
  return s.split(',').map((t) => {
    const m = /^\s*([A-Za-z0-9.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(t);
    if (!m) throw new BadRequest(`invalid field selector: ${s}`);
    if (!def.fields[m[1]!]) throw new BadRequest(`field label not supported: ${m[1]}`);
    return { field: m[1]!, neg: m[2] === '!=', value: m[3]! };
  });
}

function fieldsMatch(reqs: FieldReq[], def: ResourceDef, o: KubeObject): boolean {
  return reqs.every((r) => (def.fields[r.field]!(o) === r.value) !== r.neg);
}

// ---- the server --------------------------------------------------------------------------------

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEvent { rv: number; kind: KindName; type: EventType; obj: KubeObject; prev?: KubeObject }

interface WatchConn {
  def: ResourceDef;
  namespace?: string;
  labels: LabelReq[];
  fields: FieldReq[];
  bookmarks: boolean;
  frozen: boolean;
  res: http.ServerResponse;
  timeout?: NodeJS.Timeout;
}

interface Route { def: ResourceDef; namespace?: string; name?: string }

const keyOf = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;
const clone = <T>(v: T): T => structuredClone(v);

function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}
const REASONS: Record<number, string> = {
  400: 'BadRequest', 404: 'NotFound', 405: 'MethodNotAllowed', 410: 'Expired', 429: 'TooManyRequests',
  500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

class FakeKubeApiServer implements FakeKubeApi {
  url = '';
  port = 0;
  private readonly server: http.Server;
  private rv: number;
  private oldestResumable: number;
  private readonly store = new Map<KindName, Map<string, KubeObject>>();
  private history: HistoryEvent[] = [];
  private readonly historyLimit: number;
  private readonly watches = new Set<WatchConn>();
  private readonly held = new Set<http.ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private failures: Array<InjectedFailure & { left: number }> = [];
  private outageUntil = 0;
  private hung = false;
  private bookmarkTimer?: NodeJS.Timeout;
  private nextIp = 0x0a606401; // 10.96.100.1
  private readonly counts = {
    lists: { namespaces: 0, services: 0, pods: 0, endpointslices: 0 },
    watches: { namespaces: 0, services: 0, pods: 0, endpointslices: 0 },
    gets: 0,
    failuresInjected: 0,
    outageDrops: 0,
  };
  private readonly requests: RequestRecord[] = [];
  /** The sorted snapshot of the last list, reused by its continue pages. */
  private listCache: { key: string; all: Array<[string, KubeObject]> } | undefined;

  constructor(private readonly opts: FakeKubeApiOptions) {
    this.rv = opts.startResourceVersion ?? 1;
    this.oldestResumable = this.rv;
    this.historyLimit = opts.historyLimit ?? 10_000;
    for (const d of RESOURCES) this.store.set(d.kind, new Map());
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    if (opts.objects?.length) this.apply(opts.objects);
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    this.port = addr.port;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}`;
    const every = this.opts.bookmarkMs ?? 1000;
    if (every > 0) {
      this.bookmarkTimer = setInterval(() => this.sendBookmarks(), every);
      this.bookmarkTimer.unref();
    }
  }

  // ---- state ----

  apply(input: KubeObject | KubeObject[]): ApplyResult {
    const results: ApplyResult['results'] = [];
    for (const raw of Array.isArray(input) ? input : [input]) {
      const def = BY_KIND.get(raw?.kind);
      if (!def) throw new Error(`fake-kube-api: unsupported kind ${String(raw?.kind)}`);
      if (!raw.metadata?.name) throw new Error(`fake-kube-api: ${def.kind} without metadata.name`);
      const obj = clone(raw);
      obj.apiVersion = def.apiVersion;
      if (def.namespaced) obj.metadata.namespace = obj.metadata.namespace || 'default';
      else delete obj.metadata.namespace;
      const store = this.store.get(def.kind)!;
      const key = keyOf(obj.metadata.namespace, obj.metadata.name);
      const existing = store.get(key);
      this.applyDefaults(def, obj, existing);
      obj.metadata.uid = existing?.metadata.uid ?? randomUUID();
      obj.metadata.creationTimestamp = existing?.metadata.creationTimestamp
        ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const ns = obj.metadata.namespace ?? '';
      if (existing) {
        obj.metadata.resourceVersion = existing.metadata.resourceVersion;
        if (JSON.stringify(obj) === JSON.stringify(existing)) {
          results.push({ kind: def.kind, namespace: ns, name: obj.metadata.name, op: 'unchanged' });
          continue;
        }
      }
      this.rv++;
      obj.metadata.resourceVersion = String(this.rv);
      store.set(key, obj);
      this.record({ rv: this.rv, kind: def.kind, type: existing ? 'MODIFIED' : 'ADDED', obj, prev: existing });
      results.push({ kind: def.kind, namespace: ns, name: obj.metadata.name, op: existing ? 'updated' : 'created' });
    }
    return { resourceVersion: this.rv, results };
  }

  remove(kind: KindName, namespace: string, name: string): boolean {
    const def = BY_KIND.get(kind);
    if (!def) throw new Error(`fake-kube-api: unsupported kind ${kind}`);
    const store = this.store.get(def.kind)!;
    const key = keyOf(def.namespaced ? namespace : undefined, name);
    const existing = store.get(key);
    if (!existing) return false;
    store.delete(key);
    this.rv++;
    const final = clone(existing);
    final.metadata.resourceVersion = String(this.rv);
    this.record({ rv: this.rv, kind: def.kind, type: 'DELETED', obj: final, prev: existing });
    return true;
  }

  get(kind: KindName, namespace: string, name: string): KubeObject | undefined {
    const def = BY_KIND.get(kind);
    const o = def && this.store.get(def.kind)!.get(keyOf(def.namespaced ? namespace : undefined, name));
    return o && clone(o);
  }

  resourceVersion(): number {
    return this.rv;
  }

  private applyDefaults(def: ResourceDef, obj: KubeObject, existing: KubeObject | undefined): void {
    obj.kind = def.kind;
    if (def.kind === 'Namespace') {
      obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name };
      const status = (obj.status ??= {}) as Record<string, unknown>;
      status.phase ??= 'Active';
    } else if (def.kind === 'Service') {
      const spec = (obj.spec ??= {}) as Record<string, unknown>;
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      if (spec.type !== 'ExternalName') {
        const old = (existing?.spec ?? {}) as Record<string, unknown>;
        if (!spec.clusterIP) spec.clusterIP = (old.clusterIP as string | undefined) ?? this.allocateIp();
        const ips = spec.clusterIPs as string[] | undefined;
        if (!Array.isArray(ips) || ips.length === 0) {
          const oldIps = old.clusterIPs as string[] | undefined;
          spec.clusterIPs = oldIps?.[0] === spec.clusterIP ? oldIps : [spec.clusterIP];
        }
        if (spec.clusterIP !== 'None') spec.ipFamilies ??= [String(spec.clusterIP).includes(':') ? 'IPv6' : 'IPv4'];
      }
      if (Array.isArray(spec.ports)) {
        for (const p of spec.ports as Array<Record<string, unknown>>) {
          p.protocol ??= 'TCP';
          p.targetPort ??= p.port;
        }
      }
    }
  }

  private allocateIp(): string {
    const used = new Set<string>();
    for (const s of this.store.get('Service')!.values()) {
      for (const ip of ((s.spec as Record<string, unknown> | undefined)?.clusterIPs as string[] | undefined) ?? []) used.add(ip);
    }
    for (;;) {
      const n = this.nextIp++;
      const ip = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
      if ((n & 255) !== 0 && (n & 255) !== 255 && !used.has(ip)) return ip;
    }
  }

  private record(ev: HistoryEvent): void {
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.oldestResumable = this.history.shift()!.rv;
    for (const w of this.watches) {
      const out = this.translate(w, ev);
      if (out) this.send(w, out);
    }
  }

  /** The objects of one kind as they were at `rv` (undoing newer history); undefined when compacted. */
  private stateAt(kind: KindName, rv: number): Map<string, KubeObject> | undefined {
    if (rv < this.oldestResumable) return undefined;
    const state = new Map(this.store.get(kind)!);
    for (let i = this.history.length - 1; i >= 0; i--) {
      const ev = this.history[i]!;
      if (ev.rv <= rv) break;
      if (ev.kind !== kind) continue;
      const key = keyOf(ev.obj.metadata.namespace, ev.obj.metadata.name);
      if (ev.type === 'ADDED') state.delete(key);
      else state.set(key, ev.prev!);
    }
    return state;
  }

  // ---- faults ----

  dropWatches(): void {
    for (const w of this.watches) w.res.socket?.destroy();
  }

  compact(): void {
    this.history = [];
    this.rv++;
    this.oldestResumable = this.rv;
  }

  setOutage(ms: number): Promise<void> {
    this.outageUntil = Date.now() + ms;
    for (const w of this.watches) w.res.socket?.destroy();
    for (const r of this.held) r.socket?.destroy();
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  injectFailure(f: InjectedFailure): void {
    this.failures.push({ ...f, left: f.count ?? 1 });
  }

  clearFailures(): void {
    this.failures = [];
  }

  hang(on: boolean): void {
    this.hung = on;
    if (on) for (const w of this.watches) w.frozen = true;
  }

  stats(): FakeKubeApiStats {
    const objects = {} as Record<ResourceName, number>;
    for (const d of RESOURCES) objects[d.resource] = this.store.get(d.kind)!.size;
    return {
      resourceVersion: this.rv,
      oldestResumableResourceVersion: this.oldestResumable,
      objects,
      lists: { ...this.counts.lists },
      watches: { ...this.counts.watches },
      gets: this.counts.gets,
      openWatches: [...this.watches].filter((w) => !w.frozen).length,
      heldRequests: this.held.size,
      failuresInjected: this.counts.failuresInjected,
      outageDrops: this.counts.outageDrops,
      requests: this.requests.map((r) => ({ ...r })),
    };
  }

  async waitForWatches(n: number, opts: { resource?: ResourceName; timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    const count = (): number => [...this.watches].filter((w) => !w.frozen && (!opts.resource || w.def.resource === opts.resource)).length;
    while (count() < n) {
      if (Date.now() > deadline) throw new Error(`fake-kube-api: ${count()} open watches after ${opts.timeoutMs ?? 5000} ms, wanted ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    for (const w of this.watches) clearTimeout(w.timeout);
    this.watches.clear();
    this.held.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- HTTP ----

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname.startsWith('/_control/')) {
      void this.control(req, res, url);
      return;
    }
    if (Date.now() < this.outageUntil) {
      this.counts.outageDrops++;
      req.socket.destroy();
      return;
    }
    if (req.method !== 'GET') return this.sendStatus(res, 405, `the server does not allow this method on the requested resource`);
    const route = this.route(url.pathname);
    if (!route) return this.sendStatus(res, 404, 'the server could not find the requested resource');
    const q = url.searchParams;
    const watch = q.get('watch') === 'true' || q.get('watch') === '1';
    const verb = watch ? 'watch' : route.name ? 'get' : 'list';
    const limit = q.has('limit') ? Number(q.get('limit')) : undefined;
    const rec: RequestRecord = {
      verb, resource: route.def.resource, status: 0, at: Date.now(),
      ...(route.namespace !== undefined && { namespace: route.namespace }),
      ...(q.has('resourceVersion') && { resourceVersion: q.get('resourceVersion')! }),
      ...(q.has('continue') && { continue: true }),
      ...(limit !== undefined && { limit }),
      ...(q.has('labelSelector') && { labelSelector: q.get('labelSelector')! }),
      ...(q.has('fieldSelector') && { fieldSelector: q.get('fieldSelector')! }),
    };
    this.requests.push(rec);
    if (this.requests.length > 2000) this.requests.shift();
    if (verb === 'list') this.counts.lists[route.def.resource]++;
    else if (verb === 'watch') this.counts.watches[route.def.resource]++;
    else this.counts.gets++;
    res.on('finish', () => { rec.status = res.statusCode; });

    if (this.hung) {
      this.held.add(res);
      res.on('close', () => this.held.delete(res));
      return;
    }
    const failure = this.failures.find((f) => f.left > 0
      && (!f.verbs || f.verbs.includes(verb))
      && (f.path === undefined || (typeof f.path === 'string' ? url.pathname.includes(f.path) : f.path.test(url.pathname))));
    if (failure) {
      failure.left--;
      this.counts.failuresInjected++;
      return this.sendStatus(res, failure.status, failure.message ?? `injected failure ${failure.status}`);
    }
    try {
      if (verb === 'get') this.serveGet(route, res);
      else if (verb === 'list') this.serveList(route, q, res);
      else this.serveWatch(route, q, res, rec);
    } catch (err) {
      if (err instanceof BadRequest) return this.sendStatus(res, 400, err.message);
      throw err;
    }
  }

  private route(pathname: string): Route | undefined {
    for (const def of RESOURCES) {
      if (!pathname.startsWith(def.prefix + '/')) continue;
      const segs = pathname.slice(def.prefix.length + 1).split('/').filter(Boolean).map(decodeURIComponent);
      if (!def.namespaced) {
        if (segs[0] === def.resource && segs.length <= 2) return { def, ...(segs[1] !== undefined && { name: segs[1] }) };
        continue;
      }
      if (segs[0] === def.resource && segs.length === 1) return { def };
      if (segs[0] === 'namespaces' && segs[2] === def.resource && segs.length <= 4) {
        return { def, namespace: segs[1]!, ...(segs[3] !== undefined && { name: segs[3] }) };
      }
    }
    return undefined;
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private sendStatus(res: http.ServerResponse, code: number, message: string): void {
    this.sendJson(res, code, statusBody(code, REASONS[code] ?? 'Unknown', message));
  }

  private serveGet(route: Route, res: http.ServerResponse): void {
    const o = this.store.get(route.def.kind)!.get(keyOf(route.namespace, route.name!));
    if (!o) return this.sendStatus(res, 404, `${route.def.resource} "${route.name}" not found`);
    this.sendJson(res, 200, o);
  }

  private matches(def: ResourceDef, ns: string | undefined, labels: LabelReq[], fields: FieldReq[], o: KubeObject): boolean {
    return (ns === undefined || o.metadata.namespace === ns) && labelsMatch(labels, o.metadata.labels) && fieldsMatch(fields, def, o);
  }

  private serveList(route: Route, q: URLSearchParams, res: http.ServerResponse): void {
    const { def } = route;
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = parseFieldSelector(q.get('fieldSelector') ?? '', def);
    const limit = q.has('limit') ? Number(q.get('limit')) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw new BadRequest(`invalid limit: ${q.get('limit')}`);
    let rv = this.rv;
    let after = '';
    const token = q.get('continue');
    if (token) {
      let parsed: { rv?: unknown; after?: unknown };
      try {
        parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof parsed;
      } catch {
        throw new BadRequest('continue key is not valid');
      }
      if (typeof parsed.rv !== 'number' || typeof parsed.after !== 'string') throw new BadRequest('continue key is not valid');
      rv = parsed.rv;
      after = parsed.after;
    }
    // The pages of one list share its sorted snapshot: sorting 100k objects again for every
    // 500-item page took ~190 ms a page (45 s to list the bench's 200k-object cluster).
    const key = JSON.stringify([def.kind, route.namespace ?? null, q.get('labelSelector') ?? '', q.get('fieldSelector') ?? '', rv]);
    let all = this.listCache?.key === key && rv >= this.oldestResumable ? this.listCache.all : undefined;
    if (!all) {
      const state = this.stateAt(def.kind, rv);
      if (!state) {
        return this.sendStatus(res, 410, 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      all = [...state.entries()]
        .filter(([, o]) => this.matches(def, route.namespace, labels, fields, o))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.listCache = { key, all };
    }
    // The first item after the continue key (the snapshot is sorted by key).
    let from = 0;
    for (let hi = all.length; from < hi; ) {
      const mid = (from + hi) >> 1;
      if (all[mid]![0] > after) hi = mid;
      else from = mid + 1;
    }
    const rest = all.length - from;
    const page = all.slice(from, limit > 0 ? from + limit : all.length);
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && rest > page.length) {
      metadata.continue = Buffer.from(JSON.stringify({ rv, after: page[page.length - 1]![0] })).toString('base64url');
      if (labels.length === 0 && fields.length === 0) metadata.remainingItemCount = rest - page.length;
    }
    const items = page.map(([, o]) => {
      const { kind: _k, apiVersion: _a, ...item } = o;
      return item;
    });
    this.sendJson(res, 200, { kind: `${def.kind}List`, apiVersion: def.apiVersion, metadata, items });
  }

  private serveWatch(route: Route, q: URLSearchParams, res: http.ServerResponse, rec: RequestRecord): void {
    const { def } = route;
    const labels = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = route.name
      ? [...parseFieldSelector(q.get('fieldSelector') ?? '', def), { field: 'metadata.name', neg: false, value: route.name }]
      : parseFieldSelector(q.get('fieldSelector') ?? '', def);
    const rvParam = q.get('resourceVersion') ?? '';
    const from = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && !Number.isInteger(from)) throw new BadRequest(`invalid resourceVersion: ${rvParam}`);
    const timeoutSeconds = q.has('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : 0;

    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    rec.status = 200;
    const w: WatchConn = {
      def, labels, fields, res, frozen: false,
      bookmarks: q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1',
      ...(route.namespace !== undefined && { namespace: route.namespace }),
    };
    if (from !== undefined && from < this.oldestResumable) {
      this.send(w, { type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${from} (${this.oldestResumable})`) });
      res.end();
      return;
    }
    if (from === undefined) {
      const current = [...this.store.get(def.kind)!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [, o] of current) {
        if (this.matches(def, w.namespace, labels, fields, o)) this.send(w, { type: 'ADDED', object: o });
      }
    } else {
      for (const ev of this.history) {
        if (ev.rv <= from) continue;
        const out = this.translate(w, ev);
        if (out) this.send(w, out);
      }
    }
    this.watches.add(w);
    if (timeoutSeconds > 0) w.timeout = setTimeout(() => res.end(), timeoutSeconds * 1000);
    res.on('close', () => {
      clearTimeout(w.timeout);
      this.watches.delete(w);
    });
  }

  /** What one watch sees of a history event, as the watch cache does it (selector moves included). */
  private translate(w: WatchConn, ev: HistoryEvent): { type: string; object: unknown } | undefined {
    if (ev.kind !== w.def.kind) return undefined;
    const m = (o: KubeObject | undefined): boolean => o !== undefined && this.matches(w.def, w.namespace, w.labels, w.fields, o);
    if (ev.type === 'DELETED') return m(ev.prev) ? { type: 'DELETED', object: ev.obj } : undefined;
    const now = m(ev.obj);
    const before = ev.type === 'MODIFIED' && m(ev.prev);
    if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: ev.obj };
    if (before) {
      const gone = clone(ev.prev!);
      gone.metadata.resourceVersion = String(ev.rv);
      return { type: 'DELETED', object: gone };
    }
    return undefined;
  }

  private send(w: WatchConn, ev: { type: string; object: unknown }): void {
    if (w.frozen || w.res.writableEnded || w.res.destroyed) return;
    w.res.write(JSON.stringify(ev) + '\n');
  }

  private sendBookmarks(): void {
    for (const w of this.watches) {
      if (!w.bookmarks) continue;
      this.send(w, { type: 'BOOKMARK', object: { kind: w.def.kind, apiVersion: w.def.apiVersion, metadata: { resourceVersion: String(this.rv) } } });
    }
  }

  // ---- control API ----

  private async control(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text) body = JSON.parse(text) as Record<string, unknown>;
      switch (url.pathname) {
        case '/_control/stats': return this.sendJson(res, 200, this.stats());
        case '/_control/apply': return this.sendJson(res, 200, this.apply((body.items ?? body) as KubeObject | KubeObject[]));
        case '/_control/remove':
          return this.sendJson(res, 200, { removed: this.remove(body.kind as KindName, String(body.namespace ?? ''), String(body.name)) });
        case '/_control/drop-watches': this.dropWatches(); return this.sendJson(res, 200, {});
        case '/_control/compact': this.compact(); return this.sendJson(res, 200, { resourceVersion: this.rv });
        case '/_control/outage': void this.setOutage(Number(body.ms)); return this.sendJson(res, 200, {});
        case '/_control/hang': this.hang(body.on === true); return this.sendJson(res, 200, {});
        case '/_control/fail': this.injectFailure(body as unknown as InjectedFailure); return this.sendJson(res, 200, {});
        case '/_control/clear-failures': this.clearFailures(); return this.sendJson(res, 200, {});
        default: return this.sendStatus(res, 404, `unknown control path ${url.pathname}`);
      }
    } catch (err) {
      this.sendStatus(res, 400, (err as Error).message);
    }
  }
}

export async function startFakeKubeApi(opts: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const s = new FakeKubeApiServer(opts);
  await s.listen();
  return s;
}

/**
 * Writes `<dir>/kubeconfig` pointing at `url` (plain HTTP, so insecure-skip-tls-verify is set: the
 * client-node agent refuses http:// servers without it) with a bearer token user. Returns the path.
 */
export function writeKubeconfig(dir: string, url: string, context = 'fake'): string {
  const file = path.join(dir, 'kubeconfig');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: `${context}-cluster`, cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: `${context}-user`, user: { token: 'fake-token' } }],
    contexts: [{ name: context, context: { cluster: `${context}-cluster`, user: `${context}-user`, namespace: 'default' } }],
    'current-context': context,
  };
  fs.writeFileSync(file, yamlStringify(doc));
  return file;
}
