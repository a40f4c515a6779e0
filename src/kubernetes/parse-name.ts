/**
 * Query-name parsing for the kubernetes zone, a pure function like CoreDNS's parse.go
 * (parseRequest with multicluster and zonal off). The five shapes under a zone:
 *
 *   <zone> | svc.<zone> | pod.<zone>             apex forms: every field empty (NODATA)
 *   <ns>.svc|pod.<zone>                          namespace
 *   <service>.<ns>.svc|pod.<zone>                service (for pods: the dashed IP)
 *   <endpoint>.<service>.<ns>.svc|pod.<zone>     endpoint (hostname or dashed IP)
 *   _<port>._<proto>.<service>.<ns>.svc|pod.<zone>  SRV; the underscores are optional
 *
 * Anything longer, or not ending in svc/pod, is invalid (the caller answers NXDOMAIN). The
 * wildcards "*" and "any" are plain labels: CoreDNS removed wildcard queries in 1.9.0
 * (coredns/coredns#5019), so "*.ns.svc.zone" names a service called "*", which never exists.
 */

export const SVC = 'svc';
export const POD = 'pod';

export interface KubeNameRequest {
  /** The named port of an SRV name, underscore stripped; '' matches any port. */
  port: string;
  /** The protocol of an SRV name ("tcp"), underscore stripped; '' matches any protocol. */
  protocol: string;
  /** The endpoint label left of the service (hostname, pod name or dashed IP); '' for none. */
  endpoint: string;
  /** Service name, or the dashed pod IP for pod names; '' for namespace and apex names. */
  service: string;
  namespace: string;
  /** '' for the apex forms (the zone itself, svc.<zone>, pod.<zone>). */
  podOrSvc: '' | 'svc' | 'pod';
}

const EMPTY: KubeNameRequest = Object.freeze({ port: '', protocol: '', endpoint: '', service: '', namespace: '', podOrSvc: '' });

function stripUnderscore(s: string): string {
  return s.charCodeAt(0) === 95 /* _ */ ? s.slice(1) : s;
}

/**
 * Splits a canonical (lower-case, absolute) name under a canonical zone. Returns undefined when
 * the name is not a kubernetes name (not under the zone, not svc/pod, or too many labels).
 */
export function parseKubeName(name: string, zone: string): KubeNameRequest | undefined {
  let base: string;
  if (name === zone) {
    base = '';
  } else if (zone === '.') {
    base = name.slice(0, -1);
  } else if (name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 46 /* . */) {
    base = name.slice(0, name.length - zone.length - 1);
  } else {
    return undefined;
  }
  if (base === '' || base === SVC || base === POD) return EMPTY;

  const segs = base.split('.');
  let last = segs.length - 1;
  const podOrSvc = segs[last] as string;
  if (podOrSvc !== SVC && podOrSvc !== POD) return undefined;
  const r: KubeNameRequest = { port: '', protocol: '', endpoint: '', service: '', namespace: '', podOrSvc };
  if (--last < 0) return r;
  r.namespace = segs[last] as string;
  if (--last < 0) return r;
  r.service = segs[last] as string;
  if (--last < 0) return r;
  switch (last) {
    case 0:
      r.endpoint = segs[0] as string;
      return r;
    case 1:
      r.protocol = stripUnderscore(segs[1] as string);
      r.port = stripUnderscore(segs[0] as string);
      return r;
    default:
      return undefined;
  }
}
