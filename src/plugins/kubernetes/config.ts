/**
 * The kubernetes plugin's Corefile block, parsed into a typed config (CoreDNS's
 * plugin/kubernetes/setup.go: ParseStanza), plus our `snapshot FILE` option.
 */
import path from 'node:path';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import type { Directive, ServerAddress } from '../../corefile/types.js';
import type { KubeConnection } from '../../kubernetes/watch/kube-client.js';
import type { PodsMode } from '../../kubernetes/record-store.js';
import { Fallthrough, pluginZones } from '../../plugin/zones.js';

export interface KubernetesConfig {
  zones: string[];
  /** The first zone that is not a reverse zone: names of PTR targets and of `ns.dns.` live there. */
  primaryZone: string;
  connection: KubeConnection;
  /** `snapshot FILE`: serve objects from a YAML/JSON file instead of an API server. */
  snapshot: string | undefined;
  namespaces: string[];
  labels: string | undefined;
  namespaceLabels: string | undefined;
  pods: PodsMode;
  endpointPodNames: boolean;
  ttl: number;
  noEndpoints: boolean;
  ignoreEmptyService: boolean;
  fall: Fallthrough;
  /** Text of the fallthrough line, for the shared-watch key and explain. */
  fallArgs: string[] | undefined;
  /** `startup_timeout`: how long start() waits for the first full list before serving anyway. */
  startupTimeoutMs: number;
}

const LABEL_SELECTOR = /^[\w./-]+(\s*(=|==|!=)\s*[\w./-]*|\s+(in|notin)\s*\([\w\s,./-]*\))?$|^!?[\w./-]+$/;

function checkSelector(r: DirectiveReader, expr: string): string {
  for (const part of splitSelector(expr)) {
    if (!LABEL_SELECTOR.test(part.trim())) throw r.error(`unable to parse label selector ${JSON.stringify(expr)}: bad requirement ${JSON.stringify(part.trim())}`);
  }
  return expr;
}

/** Splits "a=b, c in (x,y)" on the commas between requirements (not inside parentheses). */
function splitSelector(expr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of expr) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseKubernetesConfig(d: Directive, addresses: ServerAddress[], root: string): KubernetesConfig {
  const r = new DirectiveReader(d, 'kubernetes');
  const zones = pluginZones(r.args(0, Infinity), addresses);
  const primaryZone = zones.find((z) => !z.endsWith('in-addr.arpa.') && !z.endsWith('ip6.arpa.'));
  // As CoreDNS: service names and PTR targets need a forward zone.
  if (primaryZone === undefined) throw r.error('non-reverse zone name must be used');
  const cfg: KubernetesConfig = {
    zones, primaryZone,
    connection: { mode: 'in-cluster' },
    snapshot: undefined,
    namespaces: [], labels: undefined, namespaceLabels: undefined,
    pods: 'disabled', endpointPodNames: false, ttl: 5,
    noEndpoints: false, ignoreEmptyService: false,
    fall: Fallthrough.none(), fallArgs: undefined,
    startupTimeoutMs: 5000,
  };
  let endpoint: string | undefined;
  let tls: { certFile: string; keyFile: string; caFile: string } | undefined;
  let kubeconfig: { file: string; context?: string } | undefined;
  const file = (p: string): string => path.resolve(root, p);

  for (const p of r.block()) {
    const c = r.child(p);
    switch (p.name) {
      case 'endpoint': {
        const urls = c.args(1, Infinity);
        if (urls.length > 1) throw c.error('multiple endpoints are not supported: give one API server URL');
        endpoint = urls[0]!;
        break;
      }
      case 'tls': {
        const [cert, key, ca] = c.args(3);
        tls = { certFile: file(cert!), keyFile: file(key!), caFile: file(ca!) };
        break;
      }
      case 'kubeconfig': {
        const [f, ctx] = c.args(1, 2);
        kubeconfig = { file: file(f!), ...(ctx !== undefined ? { context: ctx } : {}) };
        break;
      }
      case 'snapshot':
        cfg.snapshot = file(c.args(1)[0]!);
        break;
      case 'namespaces':
        cfg.namespaces = c.args(1, Infinity);
        break;
      case 'labels':
        cfg.labels = checkSelector(c, c.args(1, Infinity).join(' '));
        break;
      case 'namespace_labels':
        cfg.namespaceLabels = checkSelector(c, c.args(1, Infinity).join(' '));
        break;
      case 'pods': {
        const [mode] = c.args(1);
        if (mode !== 'disabled' && mode !== 'insecure' && mode !== 'verified') throw c.error(`wrong value for pods: ${mode}, must be one of: disabled, verified, insecure`);
        cfg.pods = mode;
        break;
      }
      case 'endpoint_pod_names':
        c.args(0);
        cfg.endpointPodNames = true;
        break;
      case 'ttl':
        cfg.ttl = c.integer(c.args(1)[0]!, 0, 3600);
        break;
      case 'noendpoints':
        c.args(0);
        cfg.noEndpoints = true;
        break;
      case 'fallthrough':
        cfg.fallArgs = p.args;
        cfg.fall = Fallthrough.parse(p.args);
        break;
      case 'ignore': {
        const [what] = c.args(1);
        if (what !== 'empty_service') throw c.error(`unable to parse ignore value: '${what}'`);
        cfg.ignoreEmptyService = true;
        break;
      }
      case 'startup_timeout':
        cfg.startupTimeoutMs = c.duration(c.args(1)[0]!);
        break;
      case 'multicluster':
        throw c.error('multicluster is not supported');
      case 'zonal':
        throw c.error('zonal is not supported');
      case 'apiserver_qps':
      case 'apiserver_burst':
      case 'apiserver_max_inflight':
        // Client-side rate limits of client-go; our watch makes a handful of requests, so these have nothing to limit.
        c.integer(c.args(1)[0]!, 0, 1_000_000);
        break;
      default:
        r.unknownProperty(p);
    }
  }
  if (cfg.namespaces.length > 0 && cfg.namespaceLabels !== undefined) throw r.error('namespaces and namespace_labels cannot both be set');
  if (cfg.snapshot !== undefined && (endpoint !== undefined || kubeconfig !== undefined)) throw r.error('snapshot cannot be combined with endpoint or kubeconfig');
  // The snapshot reader does not filter by labels (slim objects carry none): refuse rather than serve what the selector excludes.
  if (cfg.snapshot !== undefined && (cfg.labels !== undefined || cfg.namespaceLabels !== undefined)) throw r.error('labels and namespace_labels cannot be combined with snapshot');
  if (kubeconfig && endpoint) throw r.error('kubeconfig and endpoint cannot both be set');
  if (tls && !endpoint) throw r.error('tls needs an endpoint');
  if (kubeconfig) cfg.connection = { mode: 'kubeconfig', ...kubeconfig };
  else if (endpoint) cfg.connection = { mode: 'endpoint', url: endpoint, ...(tls ? { tls } : {}) };
  return cfg;
}
