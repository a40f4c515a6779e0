/**
 * Slim Kubernetes objects: only what DNS needs (CoreDNS's plugin/kubernetes/object). The watch
 * converts each API object to one of these on arrival and drops the original, so memory at 100k
 * Services is a few hundred bytes an object.
 */

/**
 * The array with no spare capacity. Arrays grown by push() or filter() reserve 17 slots (185 bytes
 * for one element against 55 for an exact one); slim objects live as long as their API object, and
 * nearly all of their arrays hold one element (a ClusterIP, a port, an endpoint address): at 200k
 * objects that spare room was ~40 MB of heap.
 */
export function exact<T>(a: T[]): T[] {
  return a.length === 0 ? [] : a.slice();
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface SlimPort {
  /** Empty for an unnamed port (no SRV record). */
  name: string;
  port: number;
  protocol: Protocol;
}

export interface SlimService {
  namespace: string;
  name: string;
  type: ServiceType;
  /** spec.clusterIPs (or [spec.clusterIP]); empty for headless and ExternalName. */
  clusterIPs: string[];
  /** clusterIP "None". */
  headless: boolean;
  /** spec.externalName, lower-cased, absolute with trailing dot, for type ExternalName. */
  externalName?: string;
  ports: SlimPort[];
  publishNotReadyAddresses: boolean;
}

export interface SlimEndpoint {
  addresses: string[];
  hostname?: string;
  /** conditions.ready (nil counts as true, per the EndpointSlice API). */
  ready: boolean;
  /** conditions.serving (nil: same as ready). */
  serving: boolean;
  /** conditions.terminating (nil counts as false). */
  terminating: boolean;
  nodeName?: string;
  /** targetRef.name when targetRef.kind is Pod (endpoint_pod_names). */
  podName?: string;
}

export interface SlimEndpointSlice {
  namespace: string;
  name: string;
  /** The `kubernetes.io/service-name` label; slices without it are ignored. */
  serviceName: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports: SlimPort[];
  endpoints: SlimEndpoint[];
  /** endpoints.kubernetes.io/last-change-trigger-time in ms since epoch, for the DNS programming latency metric. */
  lastChangeTriggerTime?: number;
}

export interface SlimNamespace {
  name: string;
}

export interface SlimPod {
  namespace: string;
  name: string;
  /** status.podIPs (or [status.podIP]). */
  ips: string[];
  /** Pods being deleted or not Running are excluded from `pods verified` answers. */
  running: boolean;
}

export type ObjectKind = 'Service' | 'EndpointSlice' | 'Namespace' | 'Pod';

/** Where the watch (or a snapshot file) delivers slim objects. The record store implements it. */
export interface ObjectSink {
  upsertService(s: SlimService): void;
  deleteService(namespace: string, name: string): void;
  upsertEndpointSlice(e: SlimEndpointSlice): void;
  deleteEndpointSlice(namespace: string, name: string): void;
  upsertNamespace(n: SlimNamespace): void;
  deleteNamespace(name: string): void;
  upsertPod(p: SlimPod): void;
  deletePod(namespace: string, name: string): void;
}
