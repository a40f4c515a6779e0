/**
 * The data behind a kubernetes plugin instance: a RecordStore fed by a watch on the API server or
 * by a snapshot file. Sources are shared by key (connection + filters) and reference-counted, so
 * a reload whose kubernetes block did not change hands the same synced store to the new config
 * instead of listing the whole cluster again (and never answers SERVFAIL during the handover).
 */
import type { Logger } from 'pino';
import { RecordStore } from '../../kubernetes/record-store.js';
import type { ObjectSink, SlimEndpointSlice } from '../../kubernetes/objects.js';
import { buildKubeConfig } from '../../kubernetes/watch/kube-client.js';
import { startWatch, type WatchOptions } from '../../kubernetes/watch/informers.js';
import { watchSnapshotFile } from '../../kubernetes/watch/snapshot.js';
import type { KubernetesConfig } from './config.js';
import { programmingDuration, watchFailures, watchEvents } from './metrics.js';

export interface KubeSource {
  store: RecordStore;
  synced(): boolean;
  whenSynced(): Promise<void>;
}

interface Shared {
  source: KubeSource;
  refs: number;
  stop: () => Promise<void>;
}

const shared = new Map<string, Shared>();

function sourceKey(cfg: KubernetesConfig): string {
  return JSON.stringify({
    connection: cfg.connection, snapshot: cfg.snapshot, namespaces: cfg.namespaces, labels: cfg.labels,
    namespaceLabels: cfg.namespaceLabels, pods: cfg.pods, endpointPodNames: cfg.endpointPodNames,
    noEndpoints: cfg.noEndpoints, ignoreEmptyService: cfg.ignoreEmptyService,
  });
}

/** Gets (or starts) the source for cfg; call the returned release() when the config retires. */
export function acquireSource(cfg: KubernetesConfig, logger: Logger): { source: KubeSource; release: () => Promise<void> } {
  const key = sourceKey(cfg);
  let entry = shared.get(key);
  if (!entry) {
    entry = startSource(cfg, logger);
    shared.set(key, entry);
  }
  entry.refs++;
  const e = entry;
  let released = false;
  return {
    source: e.source,
    release: async () => {
      if (released) return;
      released = true;
      if (--e.refs > 0) return;
      shared.delete(key);
      await e.stop();
    },
  };
}

/**
 * The watch's request and idle timeouts, backoff cap and log interval (WatchOptions, informers.ts)
 * from CLUSTERDNS_KUBE_REQUEST_TIMEOUT_MS, CLUSTERDNS_KUBE_IDLE_TIMEOUT_MS, CLUSTERDNS_KUBE_BACKOFF_MAX_MS
 * and CLUSTERDNS_KUBE_ERROR_LOG_INTERVAL_MS (positive integers); unset, the defaults. Not a user
 * setting: the chaos tests shorten them to get through a hung API server in seconds.
 */
function watchTuningFromEnv(env: NodeJS.ProcessEnv): Pick<WatchOptions, 'requestTimeoutMs' | 'idleTimeoutMs' | 'backoffMaxMs' | 'errorLogIntervalMs'> {
  const out: Pick<WatchOptions, 'requestTimeoutMs' | 'idleTimeoutMs' | 'backoffMaxMs' | 'errorLogIntervalMs'> = {};
  const set = (key: keyof typeof out, name: string): void => {
    const v = env[name];
    if (v !== undefined && /^[1-9]\d{0,8}$/.test(v)) out[key] = Number(v);
  };
  set('requestTimeoutMs', 'CLUSTERDNS_KUBE_REQUEST_TIMEOUT_MS');
  set('idleTimeoutMs', 'CLUSTERDNS_KUBE_IDLE_TIMEOUT_MS');
  set('backoffMaxMs', 'CLUSTERDNS_KUBE_BACKOFF_MAX_MS');
  set('errorLogIntervalMs', 'CLUSTERDNS_KUBE_ERROR_LOG_INTERVAL_MS');
  return out;
}

function startSource(cfg: KubernetesConfig, logger: Logger): Shared {
  const store = new RecordStore({
    namespaces: cfg.namespaces,
    endpointPodNames: cfg.endpointPodNames,
    pods: cfg.pods,
    ignoreEmptyService: cfg.ignoreEmptyService,
    noEndpoints: cfg.noEndpoints,
  });
  if (cfg.snapshot !== undefined) {
    const w = watchSnapshotFile(cfg.snapshot, store, logger);
    return {
      refs: 0,
      source: { store, synced: () => w.ready(), whenSynced: () => w.whenReady() },
      stop: async () => w.stop(),
    };
  }
  // The slice being delivered, so the programming-latency observation can be labelled by service kind.
  let lastSlice: SlimEndpointSlice | undefined;
  const sink: ObjectSink = {
    upsertService: (s) => store.upsertService(s),
    deleteService: (ns, n) => store.deleteService(ns, n),
    upsertEndpointSlice: (s) => {
      lastSlice = s;
      store.upsertEndpointSlice(s);
    },
    deleteEndpointSlice: (ns, n) => store.deleteEndpointSlice(ns, n),
    upsertNamespace: (n) => store.upsertNamespace(n),
    deleteNamespace: (n) => store.deleteNamespace(n),
    upsertPod: (p) => store.upsertPod(p),
    deletePod: (ns, n) => store.deletePod(ns, n),
  };
  const handle = startWatch({
    kubeConfig: buildKubeConfig(cfg.connection),
    sink,
    watchPods: cfg.pods === 'verified',
    ...(cfg.labels !== undefined ? { labelSelector: cfg.labels } : {}),
    ...(cfg.namespaceLabels !== undefined ? { namespaceLabelSelector: cfg.namespaceLabels } : {}),
    ...(cfg.namespaces.length > 0 ? { namespaces: cfg.namespaces } : {}),
    logger,
    onEvent: (kind, op, lagMs) => {
      watchEvents.inc({ kind, op });
      if (kind === 'EndpointSlice' && lagMs !== undefined && lastSlice) {
        // As CoreDNS (object/metrics.go): only when the backing Service is known; a slice carrying the
        // trigger-time annotation was made by the controller for a Service with a selector, so a
        // headless one is "headless_with_selector" ("headless_without_selector" is never observed).
        const svc = store.entry(lastSlice.namespace.toLowerCase(), lastSlice.serviceName.toLowerCase())?.service;
        if (svc) programmingDuration.observe({ service_kind: svc.headless ? 'headless_with_selector' : 'cluster_ip' }, Math.max(0, lagMs) / 1000);
      }
    },
    onError: (kind) => watchFailures.inc({ kind }),
    // Retry every 5 s at most once the API is away (the watch's default cap is client-go's 30 s):
    // DNS answers from the last known state meanwhile, and a 30 s cap meant up to 30 s of stale
    // answers after the API came back (measured: 25 s after a 60 s outage). 3 kinds x replicas
    // requests per 5 s, jittered, is nothing for an API server.
    backoffMaxMs: 5000,
    ...watchTuningFromEnv(process.env),
  });
  return {
    refs: 0,
    source: { store, synced: () => handle.hasSynced(), whenSynced: () => handle.whenSynced() },
    stop: () => handle.stop(),
  };
}
