/**
 * `autopath @kubernetes`: the search path of the Pod that sent the query (CoreDNS's
 * Kubernetes.AutoPath in plugin/kubernetes/autopath.go). The Pod is found by the client's address
 * in the kubernetes plugin's Pod index, which only `pods verified` keeps; queries from addresses
 * with no running Pod, and names outside the kubernetes plugin's zones, are not autopathed.
 */
import { canonicalIp } from '../../kubernetes/ip.js';
import { matchZone } from '../../plugin/zones.js';
import type { SearchPathFunc } from './handler.js';
import { podSearchPath } from './search-path.js';

/** What autopath reads of the kubernetes plugin (its KubernetesHandler, once started). */
export interface KubernetesPods {
  readonly cfg: { readonly zones: readonly string[] };
  readonly source: { readonly store: { podsWithIp(ip: string): ReadonlyArray<{ readonly namespace: string }> } };
}

/**
 * The search path function for a kubernetes plugin. `kube()` gives its handler, undefined until
 * it started; `hostSearch` are the search domains of the server's own /etc/resolv.conf.
 */
export function kubernetesSearchPath(kube: () => KubernetesPods | undefined, hostSearch: readonly string[]): SearchPathFunc {
  return (req) => {
    const k = kube();
    if (!k) return undefined;
    const zone = matchZone(k.cfg.zones, req.name);
    if (zone === undefined) return undefined;
    const ip = canonicalIp(req.remoteAddress);
    const pod = ip ? k.source.store.podsWithIp(ip.text)[0] : undefined;
    return pod ? podSearchPath(pod.namespace, zone, hostSearch) : undefined;
  };
}
