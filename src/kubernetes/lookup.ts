/**
 * The kubernetes plugin's answers, computed from the record store: no sockets, no wire format.
 * A port of CoreDNS's plugin/kubernetes (kubernetes.go Services/Records/findServices/findPods,
 * reverse.go, ns.go, handler.go's per-type dispatch) and plugin/backend_lookup.go (how service
 * entries become A/AAAA/SRV/TXT/CNAME/PTR/NS records), so that every NOERROR/NODATA/NXDOMAIN
 * decision matches CoreDNS, including its quirks:
 *   - TXT for a name that has no records at all is NXDOMAIN, even for the zone apex, svc.<zone>
 *     and an existing namespace, while A for those is NODATA;
 *   - SOA below the apex is NODATA for any name, existing or not;
 *   - non-PTR queries for names in a reverse zone are NXDOMAIN, even where a PTR exists;
 *   - endpoint names (<endpoint>.<svc>.<ns>.svc.<zone>) resolve for ClusterIP services too;
 *   - PTR of a ClusterIP names one service; PTR of an endpoint address names every endpoint
 *     with that address (ClusterIP-backed or headless), <endpoint>.<svc>.<ns>.svc.<primary zone>;
 *   - SRV weights are floor(100 / entries) computed before duplicates are dropped (dual-stack
 *     ClusterIP services answer one SRV of weight 50);
 *   - ExternalName: CNAME, chased inside the zone here (the CNAME is dropped when the in-zone
 *     target has no records); an out-of-zone target is left to the caller (`chase`).
 * Not supported (no data in the slim objects): multicluster and zonal names (they parse as
 * "too long", NXDOMAIN, as in CoreDNS with those options off), `labels`, external IPs.
 *
 * The handler's own duties (CoreDNS's ServeDNS around this): fallthrough on NXDOMAIN, SERVFAIL
 * instead of NXDOMAIN before the first sync, the SOA in authority when `authority` is 'soa'
 * (soaRecord(zone, store.serial, ttl)), AA set, and resolving `chase` through the chain.
 */
import { RRClass, RRType, Rcode } from '../dns/constants.js';
import type { ResourceRecord } from '../dns/message.js';
import type { ObjectKind } from './objects.js';
import { isSubdomain, joinName } from '../dns/names.js';
import { addressFromReverse, canonicalIp, isReverseName } from './ip.js';
import { parseKubeName, POD, type KubeNameRequest } from './parse-name.js';
import {
  type DepKey,
  type EndpointRecord,
  type RecordStore,
  type ServiceEntry,
  endpointIncluded,
  endpointName,
  namespaceDep,
  podDep,
  reverseDep,
  SERIAL_DEP,
  serviceDep,
} from './record-store.js';

export const DNS_SCHEMA_VERSION = '1.1.0';
/** TTL of dns-version.<zone> TXT, as CoreDNS. */
export const DNS_VERSION_TTL = 28800;
export const DEFAULT_TTL = 5;

export interface LookupOptions {
  /** `ttl`: TTL of every record (default 5); also the SOA minimum. */
  ttl?: number;
  /** The plugin's first non-reverse zone, canonical ("cluster.local."): PTR targets live there. */
  primaryZone: string;
  /** Addresses of the cluster DNS service: `ns.dns.<zone>` A/AAAA, NS glue. Default none. */
  nsAddresses?: readonly string[];
}

/** Why an answer is what it is; machine-readable, for `explain`. */
export type ExplainReason =
  /** Records were found. */
  | 'answer'
  /** The name exists but has no record of the asked type (AAAA of a v4-only service, TXT of a service...). */
  | 'no-data'
  /** The zone, svc.<zone> or pod.<zone>: exists, holds no records (NODATA). */
  | 'zone-apex'
  /** <ns>.svc.<zone> or <ns>.pod.<zone> of an exposed namespace (NODATA). */
  | 'namespace'
  /** SOA asked below the apex: CoreDNS answers NODATA whatever the name. */
  | 'soa-below-apex'
  /** AXFR/IXFR: served by the transfer plugin, not here. */
  | 'transfer-refused'
  /** Not <...>.svc|pod.<zone>, or more labels than any kubernetes name has. */
  | 'invalid-name'
  /** A non-PTR query for a name under in-addr.arpa/ip6.arpa. */
  | 'reverse-name'
  /** TXT for a name without records of any type (CoreDNS: NXDOMAIN). */
  | 'txt-name-without-records'
  | 'namespace-missing'
  /** Not listed in the `namespaces` option. */
  | 'namespace-filtered'
  | 'service-missing'
  /** `ignore empty_service` and the ClusterIP service has no ready endpoint. */
  | 'service-no-endpoints'
  /** Headless service without endpoint addresses. */
  | 'headless-no-endpoints'
  /** Headless service whose endpoints are all not ready or terminating. */
  | 'headless-not-ready'
  /** `noendpoints`: headless and endpoint names are not served. */
  | 'endpoints-disabled'
  | 'endpoint-missing'
  /** The endpoint name exists but only on not-ready or terminating endpoints. */
  | 'endpoint-not-ready'
  /** No port with that name and protocol (unnamed ports have no SRV name). */
  | 'port-missing'
  /** Endpoint or port labels under an ExternalName service. */
  | 'external-name-subdomain'
  /** The externalName is empty or an IP address. */
  | 'external-name-invalid'
  /** The externalName is the query name or below it. */
  | 'cname-loop'
  /** The externalName is in this zone and has no records of the asked type. */
  | 'cname-target-empty'
  | 'pods-disabled'
  /** The pod label is not a dashed IP address. */
  | 'pod-name-invalid'
  /** pods verified: no running pod with that IP in that namespace. */
  | 'pod-missing'
  /** A full reverse address no ClusterIP or endpoint has. */
  | 'ptr-missing';

export interface AnswerSource {
  kind: ObjectKind;
  namespace: string;
  name: string;
}

export interface KubeAnswer {
  /** Rcode.NOERROR, Rcode.NXDOMAIN, or Rcode.REFUSED for AXFR/IXFR (not written: the server replies). */
  rcode: number;
  answers: ResourceRecord[];
  additionals: ResourceRecord[];
  /** 'soa': put soaRecord(zone, store.serial, ttl) in authority (every NXDOMAIN and NODATA). */
  authority: 'soa' | 'none';
  reason: ExplainReason;
  /** The objects the answer (or the negative) was derived from. */
  sources: AnswerSource[];
  /** Store entries this answer depends on: memoize against store.version(key) of each. */
  deps: DepKey[];
  /**
   * Set when the answer ends in a CNAME to a name outside the zone: resolve `name`/`qtype`
   * through the plugin chain and append its answers (CoreDNS's upstream lookup). CoreDNS keeps
   * NOERROR and the CNAME whatever the upstream rcode, with the answers it got; only when the
   * lookup fails outright (no reply) does it drop the CNAME and answer NODATA.
   */
  chase?: { name: string; qtype: number };
}

/** CoreDNS's SOA for the zone: TTL min(ttl, 300), minimum = ttl. */
export function soaRecord(zone: string, serial: number, ttl: number): ResourceRecord {
  return {
    name: zone, class: RRClass.IN, ttl: Math.min(ttl, 300), type: RRType.SOA,
    mname: zone === '.' ? 'ns.dns.' : `ns.dns.${zone}`,
    rname: zone === '.' ? 'hostmaster.' : `hostmaster.${zone}`,
    serial, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl,
  };
}

// ---- internals ----

const enum Host {
  A,
  AAAA,
  CNAME,
  TXT,
}

/** CoreDNS's msg.Service, reduced: what a name resolves to before it becomes records. */
interface Item {
  kind: Host;
  /** IP text, CNAME target, or '' for TXT. */
  host: string;
  /** -1 when no port is declared (no SRV). */
  port: number;
  /** The name the item lives at (SRV target, glue owner); for endpoints, the service's name... */
  owner: string;
  /** ...and the endpoint, whose name goes in front (computed only when an SRV needs it). */
  ep?: EndpointRecord;
  ttl: number;
  text?: string;
}

interface ServicesResult {
  items: Item[];
  /** A name error (NXDOMAIN). */
  err: boolean;
  reason: ExplainReason;
}

interface Built {
  records: ResourceRecord[];
  extra: ResourceRecord[];
  err: boolean;
  reason: ExplainReason;
  chase?: { name: string; qtype: number };
}

const MAX_CNAME_CHAIN = 10;
const NO_PORT = -1;

function matchPortAndProtocol(rPort: string, port: string, rProto: string, proto: string): boolean {
  return (rPort === '' || rPort === port) && (rProto === '' || rProto === proto.toLowerCase());
}

function split255(s: string): string[] {
  if (s.length < 255) return [s];
  const out: string[] = [];
  for (let i = 0; i < s.length; i += 255) out.push(s.slice(i, i + 255));
  return out;
}

const SENTINEL_PORTS = [{ name: '', port: NO_PORT, protocol: '' }] as const;

class Resolver {
  readonly deps: DepKey[] = [];
  readonly sources: AnswerSource[] = [];
  private readonly ttl: number;

  constructor(
    private readonly store: RecordStore,
    private readonly opts: LookupOptions,
    private readonly zone: string,
  ) {
    this.ttl = opts.ttl ?? DEFAULT_TTL;
  }

  private dep(key: DepKey): void {
    if (!this.deps.includes(key)) this.deps.push(key);
  }

  private source(kind: ObjectKind, namespace: string, name: string): void {
    for (const s of this.sources) if (s.kind === kind && s.namespace === namespace && s.name === name) return;
    this.sources.push({ kind, namespace, name });
  }

  private item(host: string, port: number, owner: string): Item {
    const c = canonicalIp(host);
    if (!c) return { kind: Host.CNAME, host, port, owner, ttl: this.ttl };
    return { kind: c.v6 ? Host.AAAA : Host.A, host: c.text, port, owner, ttl: this.ttl };
  }

  // CoreDNS Kubernetes.Services
  services(name: string, qtype: number): ServicesResult {
    const zone = this.zone;
    if (qtype === RRType.TXT) {
      if (name === joinName('dns-version', zone)) {
        return { items: [{ kind: Host.TXT, host: '', port: 0, owner: name, ttl: DNS_VERSION_TTL, text: DNS_SCHEMA_VERSION }], err: false, reason: 'answer' };
      }
      const r = this.records(name);
      if (r.items.length > 0) return { items: [], err: false, reason: 'no-data' };
      return { items: [], err: true, reason: r.err ? r.reason : 'txt-name-without-records' };
    }
    if (qtype === RRType.NS) {
      // Only reached for the apex (see lookup()).
      const owner = joinName('ns.dns', zone);
      return { items: (this.opts.nsAddresses ?? []).map((ip) => this.item(ip, 0, owner)), err: false, reason: 'answer' };
    }
    if (name.startsWith('ns.dns.') && name.indexOf(zone) === 7) {
      // CoreDNS's isDefaultNS: the name server's own address records.
      const items: Item[] = [];
      for (const ip of this.opts.nsAddresses ?? []) {
        const it = this.item(ip, 0, name);
        if ((it.kind === Host.A && qtype === RRType.A) || (it.kind === Host.AAAA && qtype === RRType.AAAA)) items.push(it);
      }
      return { items, err: false, reason: 'answer' };
    }
    const r = this.records(name);
    if (qtype !== RRType.SRV) return r;
    // SRV for ExternalName services is not implemented (CoreDNS drops CNAME entries).
    return { items: r.items.filter((i) => i.kind !== Host.CNAME), err: r.err, reason: r.reason };
  }

  // CoreDNS Kubernetes.Records
  records(name: string): ServicesResult {
    const r = parseKubeName(name, this.zone);
    if (!r) return { items: [], err: true, reason: 'invalid-name' };
    if (r.podOrSvc === '') return { items: [], err: false, reason: 'zone-apex' };
    if (isReverseName(name)) return { items: [], err: true, reason: 'reverse-name' };
    if (!this.store.namespaceConfigured(r.namespace)) return { items: [], err: true, reason: 'namespace-filtered' };
    this.dep(namespaceDep(r.namespace));
    if (!this.store.namespaceExists(r.namespace)) return { items: [], err: true, reason: 'namespace-missing' };
    return r.podOrSvc === POD ? this.findPods(r) : this.findServices(r);
  }

  private findPods(r: KubeNameRequest): ServicesResult {
    const mode = this.store.options.pods;
    if (mode === 'disabled') return { items: [], err: true, reason: 'pods-disabled' };
    if (r.service === '') {
      this.source('Namespace', '', r.namespace);
      return { items: [], err: false, reason: 'namespace' };
    }
    const podname = r.service;
    const ipText = podname.split('-').length === 4 && !podname.includes('--') ? podname.replaceAll('-', '.') : podname.replaceAll('-', ':');
    const owner = joinName(podname, r.namespace, POD, this.zone);
    const ip = canonicalIp(ipText);
    if (mode === 'insecure') {
      if (!ip) return { items: [], err: true, reason: 'pod-name-invalid' };
      this.source('Namespace', '', r.namespace);
      return { items: [{ kind: ip.v6 ? Host.AAAA : Host.A, host: ip.text, port: 0, owner, ttl: this.ttl }], err: false, reason: 'answer' };
    }
    // verified: a running pod in that namespace has exactly this IP (CoreDNS compares the text).
    if (!ip || ip.text !== ipText) return { items: [], err: true, reason: 'pod-missing' };
    this.dep(podDep(ip.text));
    const items: Item[] = [];
    for (const p of this.store.podsWithIp(ip.text)) {
      if (p.namespace !== r.namespace) continue;
      this.source('Pod', p.namespace, p.name);
      items.push({ kind: ip.v6 ? Host.AAAA : Host.A, host: ip.text, port: 0, owner, ttl: this.ttl });
    }
    return items.length > 0 ? { items, err: false, reason: 'answer' } : { items, err: true, reason: 'pod-missing' };
  }

  private findServices(r: KubeNameRequest): ServicesResult {
    if (r.service === '') {
      this.source('Namespace', '', r.namespace);
      return { items: [], err: false, reason: 'namespace' };
    }
    this.dep(serviceDep(r.namespace, r.service));
    const entry = this.store.entry(r.namespace, r.service);
    const svc = entry?.service;
    if (!entry || !svc) return { items: [], err: true, reason: 'service-missing' };
    this.source('Service', svc.namespace, svc.name);
    const zone = this.zone;
    const opts = this.store.options;
    const svcName = joinName(svc.name, svc.namespace, 'svc', zone);

    if (opts.ignoreEmptyService && svc.type !== 'ExternalName' && !svc.headless && entry.endpoints.length === 0) {
      return { items: [], err: true, reason: 'service-no-endpoints' };
    }

    if (svc.type === 'ExternalName') {
      if (r.endpoint !== '' || r.port !== '' || r.protocol !== '') return { items: [], err: true, reason: 'external-name-subdomain' };
      const target = svc.externalName;
      if (!target || target === '.' || canonicalIp(target.slice(0, -1))) return { items: [], err: true, reason: 'external-name-invalid' };
      return { items: [{ kind: Host.CNAME, host: target, port: 0, owner: svcName, ttl: this.ttl }], err: false, reason: 'answer' };
    }

    if (svc.headless || r.endpoint !== '') {
      const eps: readonly EndpointRecord[] = r.endpoint !== '' ? this.store.endpointsNamed(entry, r.endpoint) : entry.endpoints;
      const items: Item[] = [];
      for (const ep of eps) {
        const ports = ep.ports.length > 0 ? ep.ports : SENTINEL_PORTS;
        let matched = false;
        for (const p of ports) {
          if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
          matched = true;
          items.push({ kind: ep.v6 ? Host.AAAA : Host.A, host: ep.ip, port: p.port, owner: svcName, ep, ttl: this.ttl });
        }
        if (matched) this.source('EndpointSlice', entry.namespace, ep.slice);
      }
      if (items.length > 0) return { items, err: false, reason: 'answer' };
      return { items, err: true, reason: this.whyNoEndpoints(entry, r, svc.publishNotReadyAddresses) };
    }

    const items: Item[] = [];
    const ports = svc.ports.length > 0 ? svc.ports : SENTINEL_PORTS;
    // A matching port makes the name exist, even on a service without addresses (CoreDNS).
    let portMatched = false;
    for (const p of ports) {
      if (!matchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
      portMatched = true;
      // The store keeps ClusterIPs canonical: the family is whether there is a colon.
      for (const ip of svc.clusterIPs) items.push({ kind: ip.includes(':') ? Host.AAAA : Host.A, host: ip, port: p.port, owner: svcName, ttl: this.ttl });
    }
    return portMatched ? { items, err: false, reason: 'answer' } : { items, err: true, reason: 'port-missing' };
  }

  /** The reason a headless or endpoint name found nothing (explain only; not on the answer path). */
  private whyNoEndpoints(entry: ServiceEntry, r: KubeNameRequest, publishNotReady: boolean): ExplainReason {
    const opts = this.store.options;
    if (opts.noEndpoints) return 'endpoints-disabled';
    if (r.endpoint !== '') {
      if (entry.endpoints.some((e) => e.name === r.endpoint)) return 'port-missing';
      for (const sl of entry.slices) {
        for (const ep of sl.endpoints) {
          if (endpointIncluded(ep, publishNotReady)) continue;
          for (const a of ep.addresses) {
            const c = canonicalIp(a);
            if (c && endpointName(ep, c.text, opts.endpointPodNames) === r.endpoint) {
              this.source('EndpointSlice', entry.namespace, sl.name);
              return 'endpoint-not-ready';
            }
          }
        }
      }
      return 'endpoint-missing';
    }
    if (entry.endpoints.length > 0) return 'port-missing';
    let raw = 0;
    for (const sl of entry.slices) {
      for (const ep of sl.endpoints) raw += ep.addresses.length;
      if (sl.endpoints.length > 0) this.source('EndpointSlice', entry.namespace, sl.name);
    }
    return raw > 0 ? 'headless-not-ready' : 'headless-no-endpoints';
  }

  // CoreDNS Kubernetes.serviceRecordForIP
  private reverseItems(ip: string): Item[] {
    this.dep(reverseDep(ip));
    const rev = this.store.reverse(ip);
    if (!rev) return [];
    const filtered = this.store.options.namespaces.size > 0;
    const primary = this.opts.primaryZone;
    for (const e of rev.services) {
      if (filtered) {
        this.dep(namespaceDep(e.namespace));
        if (!this.store.namespaceExposed(e.namespace)) continue;
      }
      this.source('Service', e.namespace, e.name);
      return [{ kind: Host.CNAME, host: joinName(e.name, e.namespace, 'svc', primary), port: 0, owner: '', ttl: this.ttl }];
    }
    const items: Item[] = [];
    for (const ep of rev.endpoints) {
      if (filtered) {
        this.dep(namespaceDep(ep.entry.namespace));
        if (!this.store.namespaceExposed(ep.entry.namespace)) continue;
      }
      this.source('EndpointSlice', ep.entry.namespace, ep.slice);
      items.push({ kind: Host.CNAME, host: joinName(ep.name, ep.entry.name, ep.entry.namespace, 'svc', primary), port: 0, owner: '', ttl: this.ttl });
    }
    return items;
  }

  // ---- record builders (plugin/backend_lookup.go) ----

  address(name: string, qtype: number, previous: ResourceRecord[]): Built {
    const res = this.services(name, qtype);
    if (res.err) return { records: [], extra: [], err: true, reason: res.reason };
    const records: ResourceRecord[] = [];
    const dup = new Set<string>();
    let chase: Built['chase'];
    let reason: ExplainReason = res.reason === 'answer' ? 'no-data' : res.reason;
    for (const it of res.items) {
      switch (it.kind) {
        case Host.CNAME: {
          if (isSubdomain(it.host, name)) {
            reason = 'cname-loop';
            continue;
          }
          if (previous.length > MAX_CNAME_CHAIN) continue;
          if (previous.some((p) => p.name === name && p.type === RRType.CNAME && 'target' in p && p.target === it.host)) continue;
          const cname: ResourceRecord = { name, class: RRClass.IN, ttl: it.ttl, type: RRType.CNAME, target: it.host };
          if (isSubdomain(it.host, this.zone)) {
            const next = this.address(it.host, qtype, [...previous, cname]);
            if (!next.err && next.records.length > 0) {
              records.push(cname, ...next.records);
              chase ??= next.chase;
            } else {
              reason = 'cname-target-empty';
            }
            continue;
          }
          records.push(cname);
          chase ??= { name: it.host, qtype };
          continue;
        }
        case Host.A:
          if (qtype === RRType.A && !dup.has(it.host)) {
            dup.add(it.host);
            records.push({ name, class: RRClass.IN, ttl: it.ttl, type: RRType.A, address: it.host });
          }
          continue;
        case Host.AAAA:
          if (qtype === RRType.AAAA && !dup.has(it.host)) {
            dup.add(it.host);
            records.push({ name, class: RRClass.IN, ttl: it.ttl, type: RRType.AAAA, address: it.host });
          }
          continue;
        default:
          continue;
      }
    }
    if (records.length > 0) reason = 'answer';
    return chase ? { records, extra: [], err: false, reason, chase } : { records, extra: [], err: false, reason };
  }

  srv(name: string): Built {
    const res = this.services(name, RRType.SRV);
    if (res.err) return { records: [], extra: [], err: true, reason: res.reason };
    const records: ResourceRecord[] = [];
    const extra: ResourceRecord[] = [];
    // Every entry weighs 100 and has priority 0: CoreDNS's weight is floor(100 / total * 100).
    let weight = Math.floor((100 / (100 * res.items.length)) * 100);
    if (weight === 0) weight = 1;
    const dup = new Set<string>();
    for (const it of res.items) {
      if (it.port === NO_PORT) continue;
      if (it.kind !== Host.A && it.kind !== Host.AAAA) continue;
      const target = it.ep ? joinName(it.ep.name, it.owner) : it.owner;
      const srvKey = `${target}\n${it.port}`;
      if (!dup.has(srvKey)) {
        dup.add(srvKey);
        records.push({ name, class: RRClass.IN, ttl: it.ttl, type: RRType.SRV, priority: 0, weight, port: it.port, target });
      }
      const addrKey = `${target}\n\n${it.host}`;
      if (!dup.has(addrKey)) {
        dup.add(addrKey);
        extra.push(it.kind === Host.A
          ? { name: target, class: RRClass.IN, ttl: it.ttl, type: RRType.A, address: it.host }
          : { name: target, class: RRClass.IN, ttl: it.ttl, type: RRType.AAAA, address: it.host });
      }
    }
    return { records, extra, err: false, reason: records.length > 0 ? 'answer' : res.reason === 'answer' ? 'no-data' : res.reason };
  }

  txt(name: string): Built {
    const res = this.services(name, RRType.TXT);
    if (res.err) return { records: [], extra: [], err: true, reason: res.reason };
    const records: ResourceRecord[] = [];
    for (const it of res.items) {
      if (it.kind !== Host.TXT || it.text === undefined) continue;
      records.push({ name, class: RRClass.IN, ttl: it.ttl, type: RRType.TXT, strings: split255(it.text) });
    }
    return { records, extra: [], err: false, reason: records.length > 0 ? 'answer' : res.reason };
  }

  cname(name: string): Built {
    const res = this.services(name, RRType.CNAME);
    if (res.err) return { records: [], extra: [], err: true, reason: res.reason };
    const first = res.items[0];
    if (first && first.kind === Host.CNAME) {
      return { records: [{ name, class: RRClass.IN, ttl: first.ttl, type: RRType.CNAME, target: first.host }], extra: [], err: false, reason: 'answer' };
    }
    return { records: [], extra: [], err: false, reason: res.reason === 'answer' ? 'no-data' : res.reason };
  }

  ptr(name: string): Built {
    const ip = addressFromReverse(name);
    if (ip === undefined) {
      const res = this.records(name);
      return { records: [], extra: [], err: res.err, reason: res.err ? res.reason : res.reason === 'answer' ? 'no-data' : res.reason };
    }
    const items = this.reverseItems(ip);
    if (items.length === 0) return { records: [], extra: [], err: true, reason: 'ptr-missing' };
    const records: ResourceRecord[] = [];
    const dup = new Set<string>();
    for (const it of items) {
      if (dup.has(it.host)) continue;
      dup.add(it.host);
      records.push({ name, class: RRClass.IN, ttl: it.ttl, type: RRType.PTR, target: it.host });
    }
    return { records, extra: [], err: false, reason: 'answer' };
  }

  mx(name: string): Built {
    // Kubernetes entries are never mail entries: only the name error matters.
    const res = this.services(name, RRType.MX);
    return { records: [], extra: [], err: res.err, reason: res.err ? res.reason : res.reason === 'answer' ? 'no-data' : res.reason };
  }

  ns(name: string): Built {
    const res = this.services(name, RRType.NS);
    const records: ResourceRecord[] = [];
    const extra: ResourceRecord[] = [];
    const seen = new Set<string>();
    for (const it of res.items) {
      if (it.kind === Host.A) extra.push({ name: it.owner, class: RRClass.IN, ttl: it.ttl, type: RRType.A, address: it.host });
      else if (it.kind === Host.AAAA) extra.push({ name: it.owner, class: RRClass.IN, ttl: it.ttl, type: RRType.AAAA, address: it.host });
      else continue;
      if (seen.has(it.owner)) continue;
      seen.add(it.owner);
      records.push({ name, class: RRClass.IN, ttl: it.ttl, type: RRType.NS, target: it.owner });
    }
    return { records, extra, err: false, reason: records.length > 0 ? 'answer' : 'no-data' };
  }
}

/**
 * Answers qname/qtype from the store. qname and zone are canonical (lower-case, absolute) and
 * qname is in zone. Owner names of the records are canonical; the server restores the client's
 * case in the question only.
 */
export function lookup(store: RecordStore, opts: LookupOptions, qname: string, qtype: number, zone: string): KubeAnswer {
  const res = new Resolver(store, opts, zone);
  let built: Built;
  // NS is answered at the apex only; below it, NS is like any other type (the default branch).
  const nsAtApex = qtype === RRType.NS && qname === zone;
  switch (nsAtApex ? -1 : qtype) {
    case -1:
      built = res.ns(qname);
      break;
    case RRType.A:
    case RRType.AAAA:
      built = res.address(qname, qtype, []);
      break;
    case RRType.TXT:
      built = res.txt(qname);
      break;
    case RRType.CNAME:
      built = res.cname(qname);
      break;
    case RRType.PTR:
      built = res.ptr(qname);
      break;
    case RRType.MX:
      built = res.mx(qname);
      break;
    case RRType.SRV:
      built = res.srv(qname);
      break;
    case RRType.SOA:
      if (qname === zone) {
        const ttl = opts.ttl ?? DEFAULT_TTL;
        return {
          rcode: Rcode.NOERROR, answers: [soaRecord(zone, store.serial, ttl)], additionals: [], authority: 'none',
          reason: 'answer', sources: [], deps: [SERIAL_DEP],
        };
      }
      built = { records: [], extra: [], err: false, reason: 'soa-below-apex' };
      break;
    case RRType.AXFR:
    case RRType.IXFR:
      return { rcode: Rcode.REFUSED, answers: [], additionals: [], authority: 'none', reason: 'transfer-refused', sources: [], deps: [] };
    default: {
      // CoreDNS does a fake A lookup to tell NODATA from NXDOMAIN.
      const a = res.address(qname, RRType.A, []);
      built = { records: [], extra: [], err: a.err, reason: a.err ? a.reason : 'no-data' };
      if (!a.err && (a.reason === 'zone-apex' || a.reason === 'namespace')) built.reason = a.reason;
    }
  }

  if (built.err) {
    res.deps.push(SERIAL_DEP);
    return { rcode: Rcode.NXDOMAIN, answers: [], additionals: [], authority: 'soa', reason: built.reason, sources: res.sources, deps: res.deps };
  }
  if (built.records.length === 0) {
    res.deps.push(SERIAL_DEP);
    return { rcode: Rcode.NOERROR, answers: [], additionals: [], authority: 'soa', reason: built.reason === 'answer' ? 'no-data' : built.reason, sources: res.sources, deps: res.deps };
  }
  const out: KubeAnswer = {
    rcode: Rcode.NOERROR, answers: built.records, additionals: built.extra, authority: 'none', reason: 'answer', sources: res.sources, deps: res.deps,
  };
  if (built.chase) out.chase = built.chase;
  return out;
}
