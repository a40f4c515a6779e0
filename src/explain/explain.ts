/**
 * `explain`: the answer clusterdns gives for a name and the reasons behind it — which server block
 * and plugin answered, which Service and EndpointSlices produced each record, and for a negative
 * answer why (namespace missing or filtered, Service missing, endpoints not ready, port not named,
 * pods disabled, name outside every zone...). Used by `clusterdns explain` and `GET /explain`.
 */
import { rcodeToString, RRType, typeToString } from '../dns/constants.js';
import { canonicalName } from '../dns/names.js';
import type { Message, ResourceRecord } from '../dns/message.js';
import { rrToString } from '../dns/presentation.js';
import type { AnswerSource, ExplainReason, KubeAnswer } from '../kubernetes/lookup.js';
import { parseKubeName, type KubeNameRequest } from '../kubernetes/parse-name.js';
import type { RecordStore } from '../kubernetes/record-store.js';
import type { KubernetesHandler } from '../plugins/kubernetes/handler.js';
import type { Dispatcher, ZoneRoute } from '../server/dispatcher.js';
import type { ForwardExports } from '../plugins/forward/setup.js';
import type { RequestOrigin } from '../server/request.js';

export interface RecordExplanation {
  record: string;
  /** The objects this record was built from. */
  from: AnswerSource[];
}

export interface ExplainResult {
  name: string;
  type: string;
  /** The server block zone the name routes to, or null when no block serves it (REFUSED). */
  serverBlock: string | null;
  /** The plugins of that server block, in execution order. */
  plugins: string[];
  rcode: string;
  /** The plugin that wrote the answer (null: the server wrote an error reply). */
  answeredBy: string | null;
  answer: RecordExplanation[];
  authority: string[];
  additional: string[];
  kubernetes?: {
    zone: string;
    reason: ExplainReason;
    sources: AnswerSource[];
    /** Whether an NXDOMAIN here was passed on to the next plugin (fallthrough). */
    fellThrough: boolean;
  };
  /** One or more sentences a person reads: what happened and why. */
  why: string[];
}

const origin: RequestOrigin = { transport: 'tcp', remoteAddress: '127.0.0.1', remotePort: 0, localAddress: '127.0.0.1', localPort: 0, server: 'explain' };

export async function explain(dispatcher: Dispatcher, rawName: string, type: number): Promise<ExplainResult> {
  const name = canonicalName(rawName);
  const { reply, route, plugin } = await dispatcher.resolveDetailed(name, type, origin);
  const plugins = route?.plugins ? [...route.plugins.keys()] : [];
  const k8s = route?.plugins?.get('kubernetes')?.exported as KubernetesHandler | undefined;
  const kube = k8s?.answer(name, type);
  const store = k8s?.source.store;

  const result: ExplainResult = {
    name,
    type: typeToString(type),
    serverBlock: route ? route.zone : null,
    plugins,
    rcode: rcodeToString(reply.rcode),
    answeredBy: plugin ?? null,
    answer: reply.answers.map((rr) => ({ record: rrToString(rr), from: store ? recordSources(rr, store) : [] })),
    authority: reply.authorities.map(rrToString),
    additional: reply.additionals.map(rrToString),
    why: [],
  };
  if (kube && k8s) {
    result.kubernetes = {
      zone: kube.zone,
      reason: kube.answer.reason,
      sources: kube.answer.sources,
      fellThrough: kube.answer.rcode === 3 && k8s.cfg.fall.through(name),
    };
  }
  result.why = reasons(result, reply, kube?.answer, k8s, name, route);
  return result;
}

/** Which objects produced a record: Services by ClusterIP, endpoints (and their slices) by address. */
function recordSources(rr: ResourceRecord, store: RecordStore): AnswerSource[] {
  if (rr.type !== RRType.A && rr.type !== RRType.AAAA) return [];
  const rev = store.reverse((rr as { address: string }).address);
  if (!rev) return [];
  const out: AnswerSource[] = [];
  for (const s of rev.services) out.push({ kind: 'Service', namespace: s.namespace, name: s.name });
  for (const ep of rev.endpoints) {
    out.push({ kind: 'Service', namespace: ep.entry.namespace, name: ep.entry.name });
    out.push({ kind: 'EndpointSlice', namespace: ep.entry.namespace, name: ep.slice });
  }
  const seen = new Set<string>();
  return out.filter((s) => {
    const k = `${s.kind}/${s.namespace}/${s.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function reasons(r: ExplainResult, reply: Message, ans: KubeAnswer | undefined, k8s: KubernetesHandler | undefined, name: string, route: ZoneRoute | undefined): string[] {
  const why: string[] = [];
  if (r.serverBlock === null) {
    why.push(`${name} is outside every server block's zones: the server answers REFUSED.`);
    return why;
  }
  why.push(`${name} is routed to the server block for zone ${r.serverBlock} (plugins: ${r.plugins.join(', ') || 'none'}).`);
  if (ans && k8s) {
    const kz = r.kubernetes!.zone;
    why.push(`It is in the kubernetes plugin's zone ${kz}: ${kubeReason(ans, k8s, name, kz, r.type)}`);
    if (r.kubernetes!.fellThrough) why.push(`The kubernetes plugin has no such name and \`fallthrough\` covers it, so the query went on to the next plugin.`);
  } else if (k8s) {
    why.push(`It is outside the kubernetes plugin's zones (${k8s.cfg.zones.join(' ')}).`);
  }
  const fwd = route?.plugins?.get('forward')?.exported as ForwardExports | undefined;
  const upstreams = fwd?.upstreamsFor(name);
  if (r.answeredBy === 'forward' || (upstreams && !r.answeredBy)) {
    why.push(`The forward plugin sends it upstream to ${upstreams?.join(', ') ?? 'its upstreams'}${r.answeredBy === 'forward' ? ' and relayed the answer' : `, which gave no usable answer (${r.rcode})`}.`);
  }
  else if (r.answeredBy && r.answeredBy !== 'kubernetes') why.push(`The ${r.answeredBy} plugin wrote the answer.`);
  else if (!r.answeredBy && !upstreams) why.push(`No plugin answered: the server replied ${rcodeToString(reply.rcode)}.`);
  return why;
}

function kubeReason(ans: KubeAnswer, k8s: KubernetesHandler, name: string, zone: string, type: string): string {
  const store = k8s.source.store;
  const p: KubeNameRequest | undefined = parseKubeName(name, zone);
  const svc = p ? `${p.namespace}/${p.service}` : '';
  const list = (xs: string[]): string => (xs.length ? xs.join(', ') : 'none');
  switch (ans.reason) {
    case 'answer': {
      const objs = ans.sources.map((s) => `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`);
      return `answered from ${list(objs)}.`;
    }
    case 'no-data': return `the name exists but has no ${type} records (NODATA).`;
    case 'zone-apex': return 'this is the zone apex (or svc./pod. under it): it exists but holds no records of this type (NODATA).';
    case 'namespace': return `namespace "${p?.namespace}" exists: the name exists but holds no records (NODATA).`;
    case 'soa-below-apex': return 'SOA is only served at the zone apex (NODATA).';
    case 'transfer-refused': return 'zone transfers are not served (REFUSED).';
    case 'invalid-name': return 'the name is not of a shape the Kubernetes DNS spec defines (<svc>.<ns>.svc, <pod>.<ns>.pod, SRV forms): NXDOMAIN.';
    case 'reverse-name': return 'only PTR queries are answered under the reverse zones.';
    case 'txt-name-without-records': return 'TXT for a name without records of any type: NXDOMAIN.';
    case 'namespace-missing': return `namespace "${p?.namespace}" does not exist (no Namespace object): NXDOMAIN.`;
    case 'namespace-filtered': return `namespace "${p?.namespace}" is not in the kubernetes plugin's \`namespaces\` option (${list(k8s.cfg.namespaces)}): NXDOMAIN.`;
    case 'service-missing': return `there is no Service "${p?.service}" in namespace "${p?.namespace}": NXDOMAIN.`;
    case 'service-no-endpoints': return `Service ${svc} has no ready endpoint and \`ignore empty_service\` is set: NXDOMAIN.`;
    case 'headless-no-endpoints': return `headless Service ${svc} has no endpoint addresses in any EndpointSlice: NXDOMAIN.`;
    case 'headless-not-ready': {
      const entry = p ? store.entry(p.namespace, p.service) : undefined;
      let notReady = 0;
      let terminating = 0;
      for (const sl of entry?.slices ?? []) for (const ep of sl.endpoints) {
        if (ep.terminating) terminating++;
        else if (!ep.ready) notReady++;
      }
      return `headless Service ${svc} has endpoints, but none is ready (${notReady} not ready, ${terminating} terminating) and publishNotReadyAddresses is false: NXDOMAIN.`;
    }
    case 'endpoints-disabled': return '`noendpoints` is set: headless and endpoint names are not served.';
    case 'endpoint-missing': return `Service ${svc} has no endpoint named "${p?.endpoint}" (hostname, pod name with endpoint_pod_names, or dashed IP): NXDOMAIN.`;
    case 'endpoint-not-ready': return `endpoint "${p?.endpoint}" of ${svc} exists but is not ready or terminating: NXDOMAIN.`;
    case 'port-missing': {
      const entry = p ? store.entry(p.namespace, p.service) : undefined;
      const ports = (entry?.service?.ports ?? []).map((x) => (x.name ? `${x.name}/${x.protocol.toLowerCase()}` : `(unnamed ${x.port}/${x.protocol.toLowerCase()})`));
      return `Service ${svc} has no port named "${p?.port}" with protocol "${p?.protocol}" (its ports: ${list(ports)}; unnamed ports have no SRV name): NXDOMAIN.`;
    }
    case 'external-name-subdomain': return `Service ${svc} is an ExternalName: it has no endpoint or port names below it.`;
    case 'external-name-invalid': return `Service ${svc} is an ExternalName with an empty or IP-address externalName: nothing to answer.`;
    case 'cname-loop': return `Service ${svc}'s externalName points at the name itself or below it: not followed.`;
    case 'cname-target-empty': return 'the CNAME target is in this zone and has no records of the asked type.';
    case 'pods-disabled': return 'pod records are disabled (`pods disabled`, the default): NXDOMAIN.';
    case 'pod-name-invalid': return `"${p?.service}" is not a dashed IP address: NXDOMAIN.`;
    case 'pod-missing': return `\`pods verified\`: no running Pod with IP ${p?.service.replaceAll('-', '.')} in namespace "${p?.namespace}": NXDOMAIN.`;
    case 'ptr-missing': return 'no ClusterIP or endpoint has this address: NXDOMAIN.';
    default: {
      const never: never = ans.reason;
      return String(never);
    }
  }
}

/** The result as text for the terminal. */
export function formatExplain(r: ExplainResult): string {
  const lines: string[] = [];
  lines.push(`;; ${r.name} ${r.type}: ${r.rcode}${r.answeredBy ? ` (answered by ${r.answeredBy})` : ''}`);
  if (r.answer.length) {
    lines.push(';; ANSWER');
    for (const a of r.answer) {
      const from = a.from.map((s) => `${s.kind} ${s.namespace}/${s.name}`).join(', ');
      lines.push(`${a.record}${from ? `\t; from ${from}` : ''}`);
    }
  }
  if (r.authority.length) lines.push(';; AUTHORITY', ...r.authority);
  if (r.additional.length) lines.push(';; ADDITIONAL', ...r.additional);
  if (r.kubernetes?.sources.length) {
    lines.push(';; OBJECTS');
    for (const s of r.kubernetes.sources) lines.push(`${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`);
  }
  lines.push(';; WHY', ...r.why);
  return `${lines.join('\n')}\n`;
}
