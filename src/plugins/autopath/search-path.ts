/**
 * Search paths as autopath uses them (pure functions, no I/O): a list of canonical domains ending
 * in the empty string, which stands for the name itself (CoreDNS's "sentinel": the bare name is
 * tried last).
 */
import { canonicalName, isSubdomain } from '../../dns/names.js';

/**
 * The search domains of a resolv.conf(5) text, canonical, as miekg/dns's ClientConfigFromReader
 * reads them: every `search` line replaces the list, a `domain` line replaces it with that one
 * domain; the last such line wins.
 */
export function resolvConfSearch(text: string): string[] {
  let search: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'search') search = f.slice(1);
    else if (f[0] === 'domain') search = f.slice(1, 2);
  }
  return search.map(canonicalName);
}

/** A configured search list as autopath walks it: the domains, then '' (the name itself). */
export function withSentinel(search: readonly string[]): string[] {
  return [...search, ''];
}

/**
 * The search path of a Pod in `namespace` for a query in kubernetes `zone` (CoreDNS's
 * Kubernetes.AutoPath): what kubelet writes into the Pod's resolv.conf
 * (`<ns>.svc.<zone> svc.<zone> <zone>`), then the DNS server's own search domains (kubelet
 * appends the node's), then the name itself.
 */
export function podSearchPath(namespace: string, zone: string, hostSearch: readonly string[]): string[] {
  const ns = namespace.toLowerCase();
  const head = zone === '.' ? [`${ns}.svc.`, 'svc.', '.'] : [`${ns}.svc.${zone}`, `svc.${zone}`, zone];
  return [...head, ...hostSearch, ''];
}

/**
 * The name the client searched for when `name` (canonical) is that name plus the first domain of
 * the search path, e.g. "web.prod.svc.cluster.local." with first domain "prod.svc.cluster.local."
 * asked as "web.prod.svc.cluster.local.prod.svc.cluster.local."; undefined when the name is not
 * below the first domain. `qname` is the name as the client wrote it: the result keeps its case
 * and has no trailing dot ("web.prod.svc.cluster.local").
 *
 * CoreDNS also takes the first domain itself as a match and then fails the query with SERVFAIL
 * (there is nothing left to search for); such a query is passed on untouched here.
 */
export function searchBase(name: string, qname: string, first: string): string | undefined {
  if (first === '' || first === '.' || name === first || !isSubdomain(name, first)) return undefined;
  const cut = name.length - first.length - 1;
  // Wire names are ASCII (anything else is \DDD-escaped), so the asked name has the same length.
  return (qname.length === name.length ? qname : name).slice(0, cut);
}

/** base + search domain: "web" and "svc.cluster.local." → "web.svc.cluster.local."; the '' domain → "web.". */
export function expand(base: string, domain: string): string {
  if (domain === '' || domain === '.') return `${base}.`;
  return `${base}.${domain}`;
}
