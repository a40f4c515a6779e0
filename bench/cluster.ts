/**
 * A synthetic cluster for the serving benchmark: ClusterIP Services with one named port, headless
 * Services whose one EndpointSlice holds N ready endpoints with hostnames, spread over namespaces.
 * From one description it produces what each side needs:
 *   - the API objects, for the Kubernetes API test double (clusterdns lists and watches them);
 *   - a zone file with the same answers, for knotd (A, SRV, headless A sets, per-endpoint A; no AAAA);
 *   - a dnsperf query file with the mix the benchmark asks for.
 * Everything is deterministic (addresses from the index, a seeded PRNG for the query mix).
 */
import type { KubeObject } from '../test/support/fake-kube-api.js';

export interface ClusterSpec {
  /** ClusterIP Services, each with the named port "http" 80/TCP. */
  services: number;
  /** Headless Services, each with one EndpointSlice. */
  headless: number;
  /** Ready endpoints per headless Service, with hostnames pod-0..pod-(N-1). */
  endpoints: number;
  namespaces: number;
  zone?: string;
}

export const ZONE = 'cluster.local';

/** The object count the CoreDNS sizing formula is about: Services plus (endpoint) pods. */
export function objectCount(s: ClusterSpec): { services: number; pods: number } {
  return { services: s.services + s.headless, pods: s.headless * s.endpoints };
}

const ip4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
/** 10.96.0.10 + i: inside the usual service CIDR 10.96.0.0/12 (1M addresses). */
export const serviceIp = (i: number): string => ip4(0x0a600000 + 10 + i);
/** 10.128.0.1 + n: pod addresses in 10.128.0.0/9. */
export const podIp = (n: number): string => ip4(0x0a800000 + 1 + n);

export const nsName = (s: ClusterSpec, i: number): string => `ns-${i % s.namespaces}`;
export const serviceName = (i: number): string => `svc-${i}`;
export const headlessName = (j: number): string => `hl-${j}`;
export const sliceName = (j: number): string => `hl-${j}-b3nch`;
export const hostName = (k: number): string => `pod-${k}`;

/** The endpoint addresses of headless Service j (before any change the watch test applies). */
export function headlessIps(s: ClusterSpec, j: number): string[] {
  return Array.from({ length: s.endpoints }, (_, k) => podIp(j * s.endpoints + k));
}

export function namespaceObjects(s: ClusterSpec): KubeObject[] {
  return Array.from({ length: s.namespaces }, (_, i) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${i}` } }));
}

export function serviceObject(s: ClusterSpec, i: number): KubeObject {
  const ip = serviceIp(i);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(i), namespace: nsName(s, i), labels: { app: serviceName(i) } },
    // clusterIP set explicitly: the test double's allocator scans every Service (O(n²) at 100k).
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], selector: { app: serviceName(i) }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
  };
}

export function headlessServiceObject(s: ClusterSpec, j: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: headlessName(j), namespace: nsName(s, j), labels: { app: headlessName(j) } },
    spec: { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], selector: { app: headlessName(j) }, ports: [{ name: 'http', port: 8080, protocol: 'TCP', targetPort: 8080 }] },
  };
}

/** Headless Service j's slice; `ips` replaces the addresses (the watch→answer test moves them). */
export function sliceObject(s: ClusterSpec, j: number, ips: string[] = headlessIps(s, j), annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName(j),
      namespace: nsName(s, j),
      labels: { 'kubernetes.io/service-name': headlessName(j), 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ...(annotations ? { annotations } : {}),
    },
    addressType: 'IPv4',
    endpoints: ips.map((ip, k) => ({
      addresses: [ip],
      hostname: hostName(k),
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', name: `${headlessName(j)}-${k}`, namespace: nsName(s, j) },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

/** Every API object of the cluster, namespaces first. Generated lazily: 200k objects are ~100 MB as JSON. */
export function* clusterObjects(s: ClusterSpec): Generator<KubeObject> {
  yield* namespaceObjects(s);
  for (let i = 0; i < s.services; i++) yield serviceObject(s, i);
  for (let j = 0; j < s.headless; j++) {
    yield headlessServiceObject(s, j);
    yield sliceObject(s, j);
  }
}

/**
 * The same data as a zone file, with what CoreDNS's kubernetes plugin answers for it: SOA as
 * CoreDNS makes it (ns.dns.<zone>, hostmaster.<zone>, refresh 7200, retry 1800, expire 86400,
 * minimum = ttl), A per ClusterIP Service, SRV per named port with the Service as target, the
 * endpoint addresses under the headless name and each endpoint's own name.
 */
export function zoneFile(s: ClusterSpec, ttl: number): string {
  const out: string[] = [
    `$ORIGIN ${ZONE}.`,
    `$TTL ${ttl}`,
    `@ IN SOA ns.dns.${ZONE}. hostmaster.${ZONE}. 1 7200 1800 86400 ${ttl}`,
    `@ IN NS ns.dns.${ZONE}.`,
    `ns.dns IN A 127.0.0.1`,
  ];
  for (let i = 0; i < s.services; i++) {
    const owner = `${serviceName(i)}.${nsName(s, i)}.svc`;
    out.push(`${owner} IN A ${serviceIp(i)}`);
    out.push(`_http._tcp.${owner} IN SRV 0 100 80 ${owner}.${ZONE}.`);
  }
  for (let j = 0; j < s.headless; j++) {
    const owner = `${headlessName(j)}.${nsName(s, j)}.svc`;
    const ips = headlessIps(s, j);
    const weight = Math.floor(100 / ips.length);
    ips.forEach((ip, k) => {
      out.push(`${owner} IN A ${ip}`);
      out.push(`${hostName(k)}.${owner} IN A ${ip}`);
      out.push(`_http._tcp.${owner} IN SRV 0 ${weight} 8080 ${hostName(k)}.${owner}.${ZONE}.`);
    });
  }
  return out.join('\n') + '\n';
}

/** A small seeded PRNG (mulberry32): the same query file on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const QUERY_MIX = [
  { what: 'ClusterIP A', share: 0.6 },
  { what: 'headless A (10 records)', share: 0.1 },
  { what: 'SRV _http._tcp (ClusterIP, 1 SRV + 1 A additional)', share: 0.1 },
  { what: 'NXDOMAIN (missing Service in an existing namespace)', share: 0.1 },
  { what: 'AAAA of a ClusterIP Service (NODATA)', share: 0.1 },
] as const;

/**
 * dnsperf's input: `name type` lines in the mix above, names drawn uniformly from the cluster
 * (so the whole zone is touched, not one hot name).
 */
export function queryFile(s: ClusterSpec, lines: number, seed = 1): string {
  const rnd = prng(seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const out: string[] = new Array<string>(lines);
  for (let l = 0; l < lines; l++) {
    const r = rnd();
    const svc = (i: number): string => `${serviceName(i)}.${nsName(s, i)}.svc.${ZONE}`;
    if (r < 0.6 || s.headless === 0) out[l] = `${svc(pick(s.services))} A`;
    else if (r < 0.7) {
      const j = pick(s.headless);
      out[l] = `${headlessName(j)}.${nsName(s, j)}.svc.${ZONE} A`;
    } else if (r < 0.8) out[l] = `_http._tcp.${svc(pick(s.services))} SRV`;
    else if (r < 0.9) {
      const i = pick(s.services);
      out[l] = `nosuch-${i}.${nsName(s, i)}.svc.${ZONE} A`;
    } else out[l] = `${svc(pick(s.services))} AAAA`;
  }
  return out.join('\n') + '\n';
}
