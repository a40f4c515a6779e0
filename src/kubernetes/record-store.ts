/**
 * The record store: slim Kubernetes objects indexed so that answering a query is a few map
 * lookups (CoreDNS's dnsController indexes: SvcIndex, EpIndex, SvcIndexReverse, EpIndexReverse,
 * PodIndex, namespaces). It knows names and addresses, not packets or sockets; lookup.ts turns
 * its entries into records.
 *
 * Indexes, by dependency key (see below):
 *   S/<ns>/<name>  → ServiceEntry: the Service (if any), its EndpointSlices, and the endpoints of
 *                    all slices merged (ready-filtered, deduplicated by address + name, sorted)
 *   N/<ns>         → namespace generation (present = the Namespace object exists)
 *   R/<ip>         → ReverseEntry: Services with that ClusterIP, endpoints with that address
 *                    (any service: CoreDNS's EpIndexReverse); the map itself is keyed by bare IP
 *   P/<ip>         → running pods with that IP (pods verified only)
 * Every upsert/delete touches only the entries of the object it carries: a slice event re-merges
 * the endpoints of one service and diffs that service's reverse entries; nothing is rebuilt.
 * The store keeps the slim objects it is handed (when already normalized) and never mutates
 * them; callers must not mutate them afterwards either. Namespaces must be fed too: as in
 * CoreDNS, a service whose Namespace object is missing is not served.
 *
 * Options act at ingest where CoreDNS would never answer from the object anyway: objects in
 * namespaces outside `namespaces` are not stored; slices are ignored with `noEndpoints` (CoreDNS
 * does not watch them then); pods are only indexed in `pods verified` mode.
 *
 * Memoization and invalidation. Every answer depends on a few index entries, named by dependency
 * keys (DepKey). Each entry carries a generation: the store's change counter (`generation`) at
 * the last DNS-relevant change of that entry, 0 when the entry does not exist. lookup() returns
 * the keys an answer was computed from (`KubeAnswer.deps`); a memo records
 * `[key, store.version(key)]` pairs with the encoded answer and, on a hit, compares them with
 * the current versions (one map get per key, usually one or two keys). An entry is therefore
 * dropped exactly when the service, namespace, pod IP or reverse IP it was built from changed,
 * and never otherwise. `version()` of a missing entry is 0 again after a delete: a memo taken
 * while a name did not exist is valid whenever it does not exist, which is exact because a
 * missing entry answers the same way whatever it looked like before. Negative answers carry
 * the SOA (and its serial) in authority: lookup adds SERIAL_DEP to their deps so a memo of the
 * encoded bytes stays exact; a handler that splices the SOA in at send time can drop that key.
 * `subscribe(listener)` reports the changed keys of each mutation synchronously, for a memo that
 * prefers evicting eagerly (or for metrics); memo.ts implements the version-check variant.
 *
 * Serial. `serial` (the SOA serial) moves only when some entry changed in a DNS-visible way:
 * re-upserting an identical object, or changing fields DNS never shows (nodeName, serving,
 * lastChangeTriggerTime, ClusterIP↔NodePort↔LoadBalancer with the same IPs, a not-ready endpoint
 * that stays excluded) changes nothing. Like CoreDNS it is Unix seconds, but strictly increasing:
 * max(serial + 1, now).
 *
 * Figures (src/kubernetes/record-store.bench.ts, Node 20.20, shared 2-vCPU VM that other jobs
 * kept at load 5-12; tsc output run with `node --expose-gc`; 3 runs, per CPU-second of the
 * process so the contention distorts little; heap figures were stable to the kilobyte):
 *   store of 5,000 ClusterIP services + 500 headless × 10 endpoints:
 *     lookup() ClusterIP A                          660,000-750,000/CPU-s (1.3-1.5 µs)
 *     AnswerMemo hit for the same (version check)   ~5,800,000/CPU-s (0.17 µs)
 *     lookup() headless A, 10 endpoints             350,000-440,000/CPU-s (2.3-2.9 µs)
 *   heap (process.memoryUsage().heapUsed after gc, before/after loading):
 *     100,000 ClusterIP services                    56.5 MB = 592 B/service
 *     10,000 headless × 1 slice × 10 endpoints      46.0 MB = 482 B/endpoint (4.8 KB/service)
 *     of which the slim objects as handed in are ~332 B/service and ~317 B/endpoint: the
 *     indexes add ~260 B per ClusterIP service and ~165 B per endpoint.
 *   ingest: 150,000-220,000 service upserts/s; 12,000-28,000 slice upserts/s (10 endpoints).
 */
import type {
  ObjectSink,
  SlimEndpoint,
  SlimEndpointSlice,
  SlimNamespace,
  SlimPod,
  SlimPort,
  SlimService,
} from './objects.js';
import { dashedIp } from '../dns/names.js';
import { canonicalIp } from './ip.js';
import { exact } from './objects.js';

export type PodsMode = 'disabled' | 'insecure' | 'verified';

export interface RecordStoreOptions {
  /** `namespaces NS...`: only these namespaces are exposed; empty or absent exposes all. */
  namespaces?: readonly string[];
  /** `endpoint_pod_names`: endpoints without a hostname are named after their pod (if < 64 chars). */
  endpointPodNames?: boolean;
  /** `pods MODE`, default 'disabled'. */
  pods?: PodsMode;
  /** `ignore empty_service`: ClusterIP services without ready endpoints answer NXDOMAIN. */
  ignoreEmptyService?: boolean;
  /** `noendpoints`: endpoint slices are not used (headless and endpoint names are NXDOMAIN). */
  noEndpoints?: boolean;
  /** Clock for the serial, in ms since the epoch (tests). Default Date.now. */
  now?: () => number;
}

export interface ResolvedStoreOptions {
  readonly namespaces: ReadonlySet<string>;
  readonly endpointPodNames: boolean;
  readonly pods: PodsMode;
  readonly ignoreEmptyService: boolean;
  readonly noEndpoints: boolean;
}

/**
 * A dependency key: an index entry an answer was computed from.
 * "S/<ns>/<name>" service, "N/<ns>" namespace, "R/<ip>" reverse, "P/<ip>" pod IP, "*serial".
 */
export type DepKey = string;

export const SERIAL_DEP: DepKey = '*serial';
export const serviceDep = (namespace: string, name: string): DepKey => `S/${namespace}/${name}`;
export const namespaceDep = (namespace: string): DepKey => `N/${namespace}`;
export const reverseDep = (ip: string): DepKey => `R/${ip}`;
export const podDep = (ip: string): DepKey => `P/${ip}`;

/** One address of a service's merged endpoints. */
export class EndpointRecord {
  constructor(
    /** Canonical IP text. */
    readonly ip: string,
    /** The explicit name: hostname, else pod name (endpoint_pod_names); undefined means the dashed IP. */
    readonly hostname: string | undefined,
    /** The ports of the slice(s) holding this address; empty means none declared. */
    readonly ports: readonly SlimPort[],
    /** The slice this address was first seen in (for explain). */
    readonly slice: string,
    /** The entry (service) the endpoint belongs to: reverse entries hold endpoint records directly. */
    readonly entry: ServiceEntry,
  ) {}

  get v6(): boolean {
    return this.ip.includes(':');
  }

  /** The endpoint name (CoreDNS's endpointHostname): hostname, pod name, or the dashed IP. */
  get name(): string {
    return this.hostname ?? dashedIp(this.ip);
  }
}

/** Everything the store holds for one namespace/name: the Service and its slices. */
export interface ServiceEntry {
  readonly key: DepKey;
  readonly namespace: string;
  readonly name: string;
  /** The normalized Service (canonical IPs, lower-case names); undefined when only slices exist. */
  readonly service: SlimService | undefined;
  readonly slices: readonly SlimEndpointSlice[];
  /** Ready endpoints of all slices (all endpoints with publishNotReadyAddresses), deduplicated, sorted (IPv4 first, then by address). */
  readonly endpoints: readonly EndpointRecord[];
  /** Generation of the last DNS-relevant change. */
  readonly gen: number;
}

export interface ReverseEntry {
  readonly gen: number;
  /** Services with this ClusterIP, in the order they were added. */
  readonly services: readonly ServiceEntry[];
  /** Endpoints with this address (any service, headless or not, as CoreDNS's EpIndexReverse). */
  readonly endpoints: readonly EndpointRecord[];
}

/** Receives the keys changed by one mutation, after the store is consistent again. */
export type StoreListener = (changed: readonly DepKey[], serial: number) => void;

interface MutableServiceEntry {
  key: DepKey;
  namespace: string;
  name: string;
  service: SlimService | undefined;
  slices: SlimEndpointSlice[];
  endpoints: EndpointRecord[];
  gen: number;
  byName: Map<string, EndpointRecord[]> | undefined;
}

/** Nothing, one, or several: a reverse entry usually has one owner, and an array costs ~56 bytes. */
type Few<T> = T | T[] | undefined;

function fewToArray<T extends object>(x: Few<T>): readonly T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

function fewFrom<T>(a: readonly T[]): Few<T> {
  return a.length === 0 ? undefined : a.length === 1 ? a[0] : (a as T[]);
}

interface MutableReverseEntry {
  gen: number;
  services: Few<MutableServiceEntry>;
  endpoints: Few<EndpointRecord>;
}

interface PodIpEntry {
  gen: number;
  pods: SlimPod[];
}

// Shared empty arrays, never mutated: entries replace their arrays instead of pushing.
const NO_ENDPOINTS: EndpointRecord[] = [];
const NO_SERVICES: MutableServiceEntry[] = [];
const NO_SLICES: SlimEndpointSlice[] = [];
Object.freeze(NO_ENDPOINTS);
Object.freeze(NO_SERVICES);
Object.freeze(NO_SLICES);

function samePorts(a: readonly SlimPort[], b: readonly SlimPort[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as SlimPort;
    const y = b[i] as SlimPort;
    if (x.name !== y.name || x.port !== y.port || x.protocol !== y.protocol) return false;
  }
  return true;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** DNS-visible equality of two normalized services. */
function sameService(a: SlimService | undefined, b: SlimService | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return (
    (a.type === 'ExternalName') === (b.type === 'ExternalName') &&
    a.headless === b.headless &&
    a.externalName === b.externalName &&
    a.publishNotReadyAddresses === b.publishNotReadyAddresses &&
    sameStrings(a.clusterIPs, b.clusterIPs) &&
    samePorts(a.ports, b.ports)
  );
}

function sameEndpoints(a: readonly EndpointRecord[], b: readonly EndpointRecord[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as EndpointRecord;
    const y = b[i] as EndpointRecord;
    if (x.ip !== y.ip || x.hostname !== y.hostname || !samePorts(x.ports, y.ports)) return false;
  }
  return true;
}

function normalizePorts(ports: readonly SlimPort[]): readonly SlimPort[] {
  if (ports.every((p) => p.name === p.name.toLowerCase())) return ports;
  return ports.map((p) => (p.name === p.name.toLowerCase() ? p : { ...p, name: p.name.toLowerCase() }));
}

/**
 * The service as the store keeps it: lower-case names, canonical unique ClusterIPs (none for
 * headless and ExternalName), lower-case port names, absolute lower-case externalName. The
 * object given is kept as is when it already is in that form (the usual case: the watch builds
 * slim objects and lets go of them), so the store must never be handed an object that changes later.
 */
function normalizeService(s: SlimService): SlimService {
  const ipsWanted = s.type !== 'ExternalName' && !s.headless;
  const clusterIPs: string[] = [];
  if (ipsWanted) {
    for (const ip of s.clusterIPs) {
      const c = canonicalIp(ip);
      if (c && !clusterIPs.includes(c.text)) clusterIPs.push(c.text);
    }
  }
  const namespace = s.namespace.toLowerCase();
  const name = s.name.toLowerCase();
  const ports = normalizePorts(s.ports);
  let externalName: string | undefined;
  if (s.type === 'ExternalName' && s.externalName) {
    externalName = s.externalName.toLowerCase();
    if (!externalName.endsWith('.')) externalName += '.';
  }
  const headless = s.type !== 'ExternalName' && s.headless;
  if (
    namespace === s.namespace && name === s.name && ports === s.ports && externalName === s.externalName &&
    headless === s.headless && clusterIPs.length === s.clusterIPs.length && clusterIPs.every((ip, i) => ip === s.clusterIPs[i])
  ) {
    return s;
  }
  const out: SlimService = {
    namespace, name, type: s.type, clusterIPs: exact(clusterIPs), headless, ports: ports as SlimPort[], publishNotReadyAddresses: s.publishNotReadyAddresses,
  };
  if (externalName !== undefined) out.externalName = externalName;
  return out;
}

/** a with x appended, as a new array of exactly the right size (push on [] reserves 17 slots). */
function append<T>(a: readonly T[], x: T): T[] {
  const out = new Array<T>(a.length + 1);
  for (let i = 0; i < a.length; i++) out[i] = a[i] as T;
  out[a.length] = x;
  return out;
}

/** The explicit name of an endpoint: hostname, else pod name (endpoint_pod_names, < 64 chars). */
function explicitName(ep: SlimEndpoint, podNames: boolean): string | undefined {
  if (ep.hostname) return ep.hostname.toLowerCase();
  if (podNames && ep.podName && ep.podName.length < 64) return ep.podName.toLowerCase();
  return undefined;
}

/** CoreDNS's endpointHostname: hostname, else pod name (endpoint_pod_names, < 64 chars), else dashed IP. */
export function endpointName(ep: SlimEndpoint, ip: string, podNames: boolean): string {
  return explicitName(ep, podNames) ?? dashedIp(ip);
}

/** An endpoint is published when ready and not terminating, or always with publishNotReadyAddresses. */
export function endpointIncluded(ep: SlimEndpoint, publishNotReady: boolean): boolean {
  return publishNotReady || (ep.ready && !ep.terminating);
}

function mergeEndpoints(entry: MutableServiceEntry, podNames: boolean): EndpointRecord[] {
  const publishNotReady = entry.service?.publishNotReadyAddresses ?? false;
  let out: EndpointRecord[] | undefined;
  let seen: Map<string, number> | undefined;
  for (const sl of entry.slices) {
    if (sl.addressType === 'FQDN') continue;
    const ports = normalizePorts(sl.ports);
    for (const ep of sl.endpoints) {
      if (!endpointIncluded(ep, publishNotReady)) continue;
      for (const addr of ep.addresses) {
        const c = canonicalIp(addr);
        if (!c) continue;
        const hostname = explicitName(ep, podNames);
        const k = hostname === undefined ? c.text : `${c.text}\n${hostname}`;
        seen ??= new Map();
        out ??= [];
        const at = seen.get(k);
        if (at !== undefined) {
          const prev = out[at] as EndpointRecord;
          if (!samePorts(prev.ports, ports)) {
            const union = [...prev.ports];
            for (const p of ports) if (!union.some((u) => u.name === p.name && u.port === p.port && u.protocol === p.protocol)) union.push(p);
            out[at] = new EndpointRecord(prev.ip, prev.hostname, exact(union), prev.slice, entry);
          }
          continue;
        }
        seen.set(k, out.length);
        out.push(new EndpointRecord(c.text, hostname, ports, sl.name, entry));
      }
    }
  }
  if (!out) return NO_ENDPOINTS;
  // A canonical order: answers do not depend on which slice an address sits in (so moving an
  // address between slices is no change), and every replica answers in the same order.
  return exact(out.sort(compareEndpoints));
}

function compareEndpoints(a: EndpointRecord, b: EndpointRecord): number {
  const av6 = a.v6;
  if (av6 !== b.v6) return av6 ? 1 : -1;
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  const an = a.hostname ?? '';
  const bn = b.hostname ?? '';
  return an < bn ? -1 : an > bn ? 1 : 0;
}

export class RecordStore implements ObjectSink {
  readonly options: ResolvedStoreOptions;
  private readonly now: () => number;
  private readonly services = new Map<DepKey, MutableServiceEntry>();
  /** By dep key "N/<ns>": the key itself (shared by memo entries, see intern()) and the generation. */
  private readonly namespaces = new Map<DepKey, { readonly key: DepKey; readonly gen: number }>();
  /** By plain canonical IP (the dep key is "R/" + IP, see version()). */
  private readonly reverseIndex = new Map<string, MutableReverseEntry>();
  private readonly podIps = new Map<DepKey, PodIpEntry>();
  /** Indexed IPs of each stored pod by "ns/name". */
  private readonly pods = new Map<string, SlimPod>();
  /** Which entry holds slice "ns/name" (slices are keyed by their own name, not their service's). */
  private readonly sliceOwner = new Map<string, MutableServiceEntry>();
  private readonly listeners = new Set<StoreListener>();
  private tick = 0;
  private serialValue = 0;
  /** Keys changed by the mutation in progress. */
  private readonly changed = new Set<DepKey>();

  constructor(opts: RecordStoreOptions = {}) {
    this.options = Object.freeze({
      namespaces: new Set((opts.namespaces ?? []).map((n) => n.toLowerCase())),
      endpointPodNames: opts.endpointPodNames ?? false,
      pods: opts.pods ?? 'disabled',
      ignoreEmptyService: opts.ignoreEmptyService ?? false,
      noEndpoints: opts.noEndpoints ?? false,
    });
    this.now = opts.now ?? Date.now;
  }

  // ---- read side (lookup.ts) ----

  /** The SOA serial: Unix seconds of the last DNS-relevant change, strictly increasing; 0 before any. */
  get serial(): number {
    return this.serialValue;
  }

  /** The change counter: how many mutations changed something DNS-visible. */
  get generation(): number {
    return this.tick;
  }

  /** The current version of a dependency key; 0 when its entry does not exist. */
  version(dep: DepKey): number {
    switch (dep.charCodeAt(0)) {
      case 83 /* S */:
        return this.services.get(dep)?.gen ?? 0;
      case 78 /* N */:
        return this.namespaces.get(dep)?.gen ?? 0;
      case 82 /* R */:
        return this.reverseIndex.get(dep.slice(2))?.gen ?? 0;
      case 80 /* P */:
        return this.podIps.get(dep)?.gen ?? 0;
      case 42 /* * */:
        return this.serialValue;
      default:
        return 0;
    }
  }

  /**
   * The store's own string for a dependency key whose entry exists (services and namespaces, the
   * keys nearly every answer depends on), else dep: a memo keeping this one holds no copy.
   */
  intern(dep: DepKey): DepKey {
    switch (dep.charCodeAt(0)) {
      case 83 /* S */:
        return this.services.get(dep)?.key ?? dep;
      case 78 /* N */:
        return this.namespaces.get(dep)?.key ?? dep;
      case 42 /* * */:
        return SERIAL_DEP;
      default:
        return dep;
    }
  }

  /** Calls listener after every mutation that changed something; returns the unsubscribe function. */
  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** True when the `namespaces` option lets this namespace be served (not whether it exists). */
  namespaceConfigured(namespace: string): boolean {
    return this.options.namespaces.size === 0 || this.options.namespaces.has(namespace);
  }

  namespaceExists(namespace: string): boolean {
    return this.namespaces.has(namespaceDep(namespace));
  }

  /** CoreDNS's namespaceExposed: configured and the Namespace object exists. */
  namespaceExposed(namespace: string): boolean {
    return this.namespaceConfigured(namespace) && this.namespaces.has(namespaceDep(namespace));
  }

  /** The entry for namespace/name (Service and/or slices), if any. */
  entry(namespace: string, name: string): ServiceEntry | undefined {
    return this.services.get(serviceDep(namespace, name));
  }

  /** Endpoints of an entry whose name is `name` (hostname, pod name or dashed IP). */
  endpointsNamed(entry: ServiceEntry, name: string): readonly EndpointRecord[] {
    const e = entry as MutableServiceEntry;
    if (e.endpoints.length <= 8) {
      let out: EndpointRecord[] | undefined;
      for (const ep of e.endpoints) if (ep.name === name) (out ??= []).push(ep);
      return out ?? NO_ENDPOINTS;
    }
    if (!e.byName) {
      e.byName = new Map();
      for (const ep of e.endpoints) {
        const list = e.byName.get(ep.name);
        if (list) list.push(ep);
        else e.byName.set(ep.name, [ep]);
      }
    }
    return e.byName.get(name) ?? NO_ENDPOINTS;
  }

  /** The reverse entry for a canonical IP. */
  reverse(ip: string): ReverseEntry | undefined {
    const r = this.reverseIndex.get(ip);
    return r && { gen: r.gen, services: fewToArray(r.services), endpoints: fewToArray(r.endpoints) };
  }

  /** Running pods with this canonical IP (pods verified mode only; empty otherwise). */
  podsWithIp(ip: string): readonly SlimPod[] {
    return this.podIps.get(podDep(ip))?.pods ?? [];
  }

  /** Counts for metrics and tests. */
  stats(): { services: number; entries: number; slices: number; endpoints: number; namespaces: number; reverse: number; pods: number } {
    let services = 0;
    let slices = 0;
    let endpoints = 0;
    for (const e of this.services.values()) {
      if (e.service) services++;
      slices += e.slices.length;
      endpoints += e.endpoints.length;
    }
    return { services, entries: this.services.size, slices, endpoints, namespaces: this.namespaces.size, reverse: this.reverseIndex.size, pods: this.pods.size };
  }

  // ---- write side (ObjectSink) ----

  upsertService(s: SlimService): void {
    const svc = normalizeService(s);
    if (!this.namespaceConfigured(svc.namespace)) return;
    const key = serviceDep(svc.namespace, svc.name);
    let e = this.services.get(key);
    if (!e) {
      e = { key, namespace: svc.namespace, name: svc.name, service: undefined, slices: NO_SLICES, endpoints: NO_ENDPOINTS, gen: 0, byName: undefined };
      this.services.set(key, e);
    }
    this.replaceService(e, svc);
    this.commit();
  }

  deleteService(namespace: string, name: string): void {
    const e = this.services.get(serviceDep(namespace.toLowerCase(), name.toLowerCase()));
    if (!e?.service) return;
    this.replaceService(e, undefined);
    this.dropIfEmpty(e);
    this.commit();
  }

  upsertEndpointSlice(sl: SlimEndpointSlice): void {
    if (this.options.noEndpoints || !sl.serviceName) return;
    const namespace = sl.namespace.toLowerCase();
    if (!this.namespaceConfigured(namespace)) return;
    const key = serviceDep(namespace, sl.serviceName.toLowerCase());
    // A slice may move to another service (label change): remove it from the old entry first.
    const prev = this.findSliceOwner(namespace, sl.name);
    if (prev && prev.key !== key) this.removeSlice(prev, sl.name);
    let e = this.services.get(key);
    if (!e) {
      e = { key, namespace, name: sl.serviceName.toLowerCase(), service: undefined, slices: NO_SLICES, endpoints: NO_ENDPOINTS, gen: 0, byName: undefined };
      this.services.set(key, e);
    }
    const i = e.slices.findIndex((x) => x.name === sl.name);
    if (i === -1) e.slices = append(e.slices, sl);
    else e.slices[i] = sl;
    this.sliceOwner.set(`${namespace}/${sl.name}`, e);
    this.remerge(e);
    this.commit();
  }

  deleteEndpointSlice(namespace: string, name: string): void {
    const ns = namespace.toLowerCase();
    const e = this.findSliceOwner(ns, name);
    if (!e) return;
    this.removeSlice(e, name);
    this.commit();
  }

  upsertNamespace(n: SlimNamespace): void {
    const name = n.name.toLowerCase();
    if (!this.namespaceConfigured(name)) return;
    const key = namespaceDep(name);
    if (this.namespaces.has(key)) return;
    this.namespaces.set(key, { key, gen: this.tick + 1 });
    this.changed.add(key);
    this.commit();
  }

  deleteNamespace(name: string): void {
    const key = namespaceDep(name.toLowerCase());
    if (!this.namespaces.delete(key)) return;
    this.changed.add(key);
    this.commit();
  }

  upsertPod(p: SlimPod): void {
    if (this.options.pods !== 'verified') return;
    const namespace = p.namespace.toLowerCase();
    if (!this.namespaceConfigured(namespace)) return;
    const id = `${namespace}/${p.name}`;
    const ips: string[] = [];
    if (p.running) {
      for (const ip of p.ips) {
        const c = canonicalIp(ip);
        if (c && !ips.includes(c.text)) ips.push(c.text);
      }
    }
    const old = this.pods.get(id);
    if (old && sameStrings(old.ips, ips)) return;
    if (old) this.unindexPod(old);
    if (ips.length === 0) {
      this.pods.delete(id);
    } else {
      const slim: SlimPod = namespace === p.namespace && sameStrings(ips, p.ips) ? p : { namespace, name: p.name, ips: exact(ips), running: true };
      this.pods.set(id, slim);
      for (const ip of ips) {
        const key = podDep(ip);
        let pe = this.podIps.get(key);
        if (!pe) {
          pe = { gen: 0, pods: [] };
          this.podIps.set(key, pe);
        }
        pe.pods = append(pe.pods, slim);
        this.touchPodIp(key, pe);
      }
    }
    this.commit();
  }

  deletePod(namespace: string, name: string): void {
    const id = `${namespace.toLowerCase()}/${name}`;
    const old = this.pods.get(id);
    if (!old) return;
    this.pods.delete(id);
    this.unindexPod(old);
    this.commit();
  }

  // ---- internals ----

  private findSliceOwner(namespace: string, sliceName: string): MutableServiceEntry | undefined {
    return this.sliceOwner.get(`${namespace}/${sliceName}`);
  }

  private removeSlice(e: MutableServiceEntry, sliceName: string): void {
    const i = e.slices.findIndex((x) => x.name === sliceName);
    if (i !== -1) e.slices.splice(i, 1);
    this.sliceOwner.delete(`${e.namespace}/${sliceName}`);
    this.remerge(e);
    this.dropIfEmpty(e);
  }

  private dropIfEmpty(e: MutableServiceEntry): void {
    if (e.service || e.slices.length > 0) return;
    this.services.delete(e.key);
    this.changed.add(e.key);
  }

  private touchEntry(e: MutableServiceEntry): void {
    e.gen = this.tick + 1;
    this.changed.add(e.key);
  }

  private touchPodIp(key: DepKey, pe: PodIpEntry): void {
    pe.gen = this.tick + 1;
    this.changed.add(key);
  }

  private unindexPod(p: SlimPod): void {
    for (const ip of p.ips) {
      const key = podDep(ip);
      const pe = this.podIps.get(key);
      if (!pe) continue;
      const i = pe.pods.indexOf(p);
      if (i !== -1) pe.pods.splice(i, 1);
      if (pe.pods.length === 0) {
        this.podIps.delete(key);
        this.changed.add(key);
      } else {
        this.touchPodIp(key, pe);
      }
    }
  }

  private replaceService(e: MutableServiceEntry, svc: SlimService | undefined): void {
    const old = e.service;
    e.service = svc;
    if (sameService(old, svc)) return;
    this.touchEntry(e);
    this.reindexClusterIps(e, old?.clusterIPs ?? [], svc?.clusterIPs ?? []);
    if ((old?.publishNotReadyAddresses ?? false) !== (svc?.publishNotReadyAddresses ?? false)) this.remerge(e);
  }

  /**
   * Recomputes the merged endpoints of e. A DNS-visible difference bumps e; the reverse index
   * always gets the new records (so it never holds on to replaced ones) but only addresses whose
   * names changed are bumped.
   */
  private remerge(e: MutableServiceEntry): void {
    const old = e.endpoints;
    const next = mergeEndpoints(e, this.options.endpointPodNames);
    if (old === next) return;
    e.endpoints = next;
    e.byName = undefined;
    if (!sameEndpoints(old, next)) this.touchEntry(e);
    this.reindexEndpoints(e, old, next);
  }

  /** Stores the reverse entry of ip (or removes it when empty); bump marks a DNS-visible change. */
  private writeReverse(ip: string, r: MutableReverseEntry | undefined, services: readonly MutableServiceEntry[], endpoints: readonly EndpointRecord[], bump: boolean): void {
    if (services.length === 0 && endpoints.length === 0) {
      if (r) this.reverseIndex.delete(ip);
    } else if (!r) {
      this.reverseIndex.set(ip, { gen: this.tick + 1, services: fewFrom(services), endpoints: fewFrom(endpoints) });
      bump = true;
    } else {
      r.services = fewFrom(services);
      r.endpoints = fewFrom(endpoints);
      if (bump) r.gen = this.tick + 1;
    }
    if (bump) this.changed.add(reverseDep(ip));
  }

  private reindexClusterIps(e: MutableServiceEntry, oldIps: readonly string[], newIps: readonly string[]): void {
    for (const ip of oldIps) {
      if (newIps.includes(ip)) continue;
      const r = this.reverseIndex.get(ip);
      if (!r) continue;
      this.writeReverse(ip, r, fewToArray(r.services).filter((x) => x !== e), fewToArray(r.endpoints), true);
    }
    for (const ip of newIps) {
      if (oldIps.includes(ip)) continue;
      const r = this.reverseIndex.get(ip);
      this.writeReverse(ip, r, append(fewToArray(r?.services), e), fewToArray(r?.endpoints), true);
    }
  }

  private reindexEndpoints(e: MutableServiceEntry, oldEps: readonly EndpointRecord[], newEps: readonly EndpointRecord[]): void {
    const oldBy = new Map<string, string[]>();
    for (const ep of oldEps) {
      const l = oldBy.get(ep.ip);
      if (l) l.push(ep.hostname ?? '');
      else oldBy.set(ep.ip, [ep.hostname ?? '']);
    }
    const newBy = new Map<string, EndpointRecord[]>();
    for (const ep of newEps) {
      const l = newBy.get(ep.ip);
      if (l) l.push(ep);
      else newBy.set(ep.ip, [ep]);
    }
    const update = (ip: string, add: EndpointRecord[] | undefined): void => {
      const names = oldBy.get(ip);
      const bump = !names || !add || !sameStrings(names, add.map((x) => x.hostname ?? ''));
      const r = this.reverseIndex.get(ip);
      const kept = fewToArray(r?.endpoints).filter((x) => x.entry !== e);
      this.writeReverse(ip, r, fewToArray(r?.services), add ? kept.concat(add) : kept, bump);
    };
    for (const ip of oldBy.keys()) update(ip, newBy.get(ip));
    for (const [ip, add] of newBy) if (!oldBy.has(ip)) update(ip, add);
  }

  /** Ends a mutation: if anything changed, advance the generation and serial and notify. */
  private commit(): void {
    if (this.changed.size === 0) return;
    const changed = [...this.changed, SERIAL_DEP];
    this.changed.clear();
    this.tick++;
    const nowSec = Math.floor(this.now() / 1000);
    this.serialValue = Math.max(this.serialValue + 1, nowSec) >>> 0;
    for (const l of this.listeners) l(changed, this.serialValue);
  }
}
