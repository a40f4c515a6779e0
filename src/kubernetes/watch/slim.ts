/**
 * Pure converters from Kubernetes API objects (the JSON the API server sends, or a snapshot file
 * holds) to the slim objects DNS needs. They never throw on a malformed object: a field of the wrong
 * type is treated as absent, and an object that cannot be identified (no name, no namespace, a slice
 * without its service label) converts to null and is ignored.
 */
import type {
  Protocol,
  ServiceType,
  SlimEndpoint,
  SlimEndpointSlice,
  SlimNamespace,
  SlimPod,
  SlimPort,
  SlimService,
} from '../objects.js';
import { exact } from '../objects.js';
import { isObj, nonEmptyString } from './json-shape.js';

/** The label the EndpointSlice controller puts on every slice of a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Set by the EndpointSlice controller to the time of the change that caused this version. */
export const LAST_CHANGE_TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strings = (v: unknown): string[] => exact(arr(v).filter((s): s is string => typeof s === 'string' && s !== ''));


const SERVICE_TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

interface Identity {
  namespace: string;
  name: string;
}

function identity(o: unknown, namespaced: boolean): Identity | null {
  const meta = obj(obj(o).metadata);
  const name = nonEmptyString(meta.name);
  const namespace = nonEmptyString(meta.namespace);
  if (!name || (namespaced && !namespace)) return null;
  return { namespace: namespace ?? '', name };
}

function ports(v: unknown): SlimPort[] {
  const out: SlimPort[] = [];
  for (const p of arr(v)) {
    const port = obj(p).port;
    // EndpointPort.port may be nil ("all ports"); there is nothing to put in an SRV record for it.
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    const protocol = obj(p).protocol;
    out.push({
      name: typeof obj(p).name === 'string' ? (obj(p).name as string) : '',
      port,
      protocol: PROTOCOLS.includes(protocol as Protocol) ? (protocol as Protocol) : 'TCP',
    });
  }
  return exact(out);
}

/** "Example.COM" → "example.com.", "" → undefined. */
export function canonicalExternalName(name: unknown): string | undefined {
  const n = nonEmptyString(name)?.trim().toLowerCase();
  if (!n) return undefined;
  return n.endsWith('.') ? n : `${n}.`;
}

export function toSlimService(o: unknown): SlimService | null {
  const id = identity(o, true);
  if (!id) return null;
  const spec = obj(obj(o).spec);
  const type = SERVICE_TYPES.includes(spec.type as ServiceType) ? (spec.type as ServiceType) : 'ClusterIP';
  const headless = spec.clusterIP === 'None';
  let clusterIPs: string[] = [];
  if (type !== 'ExternalName' && !headless) {
    clusterIPs = exact(arr(spec.clusterIPs).filter((s): s is string => typeof s === 'string' && s !== '' && s !== 'None'));
    if (clusterIPs.length === 0 && nonEmptyString(spec.clusterIP) && spec.clusterIP !== 'None') clusterIPs = [spec.clusterIP as string];
  }
  const s: SlimService = {
    namespace: id.namespace,
    name: id.name,
    type,
    clusterIPs,
    headless,
    ports: ports(spec.ports),
    publishNotReadyAddresses: spec.publishNotReadyAddresses === true,
  };
  if (type === 'ExternalName') {
    const ext = canonicalExternalName(spec.externalName);
    if (ext) s.externalName = ext;
  }
  return s;
}

function endpoint(e: unknown): SlimEndpoint | null {
  const addresses = strings(obj(e).addresses);
  if (addresses.length === 0) return null;
  const cond = obj(obj(e).conditions);
  // EndpointConditions: ready nil means ready; serving nil means "same as ready"; terminating nil false.
  const ready = typeof cond.ready === 'boolean' ? cond.ready : true;
  const ep: SlimEndpoint = {
    addresses,
    ready,
    serving: typeof cond.serving === 'boolean' ? cond.serving : ready,
    terminating: typeof cond.terminating === 'boolean' ? cond.terminating : false,
  };
  const hostname = nonEmptyString(obj(e).hostname);
  if (hostname) ep.hostname = hostname;
  const nodeName = nonEmptyString(obj(e).nodeName);
  if (nodeName) ep.nodeName = nodeName;
  const ref = obj(obj(e).targetRef);
  if (ref.kind === 'Pod' && nonEmptyString(ref.name)) ep.podName = ref.name as string;
  return ep;
}

/** Null for a slice without the kubernetes.io/service-name label or with an unknown addressType. */
export function toSlimEndpointSlice(o: unknown): SlimEndpointSlice | null {
  const id = identity(o, true);
  if (!id) return null;
  const meta = obj(obj(o).metadata);
  const serviceName = nonEmptyString(obj(meta.labels)[SERVICE_NAME_LABEL]);
  if (!serviceName) return null;
  const addressType = obj(o).addressType;
  if (addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN') return null;
  const endpoints: SlimEndpoint[] = [];
  for (const e of arr(obj(o).endpoints)) {
    const ep = endpoint(e);
    if (ep) endpoints.push(ep);
  }
  const slice: SlimEndpointSlice = {
    namespace: id.namespace,
    name: id.name,
    serviceName,
    addressType,
    ports: ports(obj(o).ports),
    endpoints: exact(endpoints),
  };
  const trigger = nonEmptyString(obj(meta.annotations)[LAST_CHANGE_TRIGGER_TIME_ANNOTATION]);
  if (trigger) {
    const ms = Date.parse(trigger);
    if (Number.isFinite(ms)) slice.lastChangeTriggerTime = ms;
  }
  return slice;
}

export function toSlimNamespace(o: unknown): SlimNamespace | null {
  const id = identity(o, false);
  return id && { name: id.name };
}

export function toSlimPod(o: unknown): SlimPod | null {
  const id = identity(o, true);
  if (!id) return null;
  const status = obj(obj(o).status);
  let ips = exact(arr(status.podIPs).map((p) => obj(p).ip).filter((ip): ip is string => typeof ip === 'string' && ip !== ''));
  if (ips.length === 0 && nonEmptyString(status.podIP)) ips = [status.podIP as string];
  const deleting = obj(obj(o).metadata).deletionTimestamp != null;
  return { namespace: id.namespace, name: id.name, ips, running: status.phase === 'Running' && !deleting };
}
