/**
 * Watch → answer latency: the API double applies EndpointSlice updates at a steady rate (each one
 * moves endpoint pod-0 of one headless Service to a new address), and for every update a poller
 * asks `pod-0.<service>.<ns>.svc.cluster.local A` over UDP until the answer carries the new
 * address. The latency is from just before the update is applied (the API server's write) to the
 * first reply with the new address — or, with several workers, to the first of `consecutive`
 * replies in a row with it, since each worker follows its own watch and any of them may answer.
 */
import { RRType } from '../src/dns/constants.js';
import type { FakeKubeApi } from '../test/support/fake-kube-api.js';
import { headlessIps, headlessName, hostName, nsName, sliceObject, type ClusterSpec } from './cluster.js';
import { runDnsperf } from './dnsperf.js';
import { addresses, DnsClient } from './probe.js';
import { percentile } from './report.js';

export interface WatchResult {
  changes: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Updates whose answer was not seen within the poll deadline. */
  timeouts: number;
  /** Polls sent in all. */
  polls: number;
  /** [ms since the first change, latency ms] of each change seen, for a look at the outliers. */
  samples: Array<[number, number]>;
}

const DEADLINE_MS = 2000;
/** Addresses of moved endpoints: 10.64.0.0/10, never used by the generator. */
let moved = 0;
const nextMovedIp = (): string => {
  const n = 0x0a400000 + 1 + moved++;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
};

export async function measureWatchToAnswer(o: {
  api: FakeKubeApi;
  spec: ClusterSpec;
  port: number;
  perSecond: number;
  seconds: number;
  consecutive: number;
  /** dnsperf load to run meanwhile. */
  load?: { queryFile: string; qps: number; clients: number; threads: number };
}): Promise<WatchResult> {
  const { spec } = o;
  if (spec.headless === 0) throw new Error('the watch test needs headless Services');
  const client = new DnsClient(o.port);
  const latencies: number[] = [];
  const samples: Array<[number, number]> = [];
  let start = 0;
  let timeouts = 0;
  let polls = 0;
  const current = new Map<number, string[]>();
  const busy = new Set<number>();
  let next = 0;

  const poll = async (name: string, want: string, appliedAt: number): Promise<void> => {
    let streak = 0;
    let streakStart = 0;
    while (performance.now() - appliedAt < DEADLINE_MS) {
      const sent = performance.now();
      const m = await client.query(name, RRType.A, 500);
      polls++;
      const got = addresses(m);
      if (got.length === 1 && got[0] === want) {
        if (streak === 0) streakStart = performance.now();
        if (++streak >= o.consecutive) {
          latencies.push(streakStart - appliedAt);
          samples.push([appliedAt - start, streakStart - appliedAt]);
          return;
        }
      } else {
        streak = 0;
      }
      // Poll again at once, but never more than one query in flight per change, nor two in the same 0.2 ms.
      const since = performance.now() - sent;
      if (since < 0.2) await new Promise((r) => setImmediate(r));
    }
    timeouts++;
  };

  const load = o.load
    ? runDnsperf({ port: o.port, queryFile: o.load.queryFile, seconds: o.seconds + 1, clients: o.load.clients, threads: o.load.threads, outstanding: 200, maxQps: o.load.qps })
    : undefined;
  if (load) await new Promise((r) => setTimeout(r, 500));

  const total = o.perSecond * o.seconds;
  const interval = 1000 / o.perSecond;
  start = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    // A steady schedule: change i is due at start + i × interval.
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Round robin over the headless Services, skipping one whose previous change is still being polled.
    let j = next;
    for (let tries = 0; tries < spec.headless && busy.has(j); tries++) j = (j + 1) % spec.headless;
    next = (j + 1) % spec.headless;
    if (busy.has(j)) continue;
    const ips = [...(current.get(j) ?? headlessIps(spec, j))];
    const ip = nextMovedIp();
    ips[0] = ip;
    current.set(j, ips);
    busy.add(j);
    const appliedAt = performance.now();
    o.api.apply(sliceObject(spec, j, ips, { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() }));
    const name = `${hostName(0)}.${headlessName(j)}.${nsName(spec, j)}.svc.cluster.local.`;
    pending.push(poll(name, ip, appliedAt).finally(() => busy.delete(j)));
  }
  await Promise.all(pending);
  await load;
  client.close();
  // Put the slices back as the generator made them, for whatever runs next.
  for (const j of current.keys()) o.api.apply(sliceObject(spec, j));
  current.clear();
  await new Promise((r) => setTimeout(r, 500));
  return {
    changes: latencies.length + timeouts,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.length ? Math.max(...latencies) : NaN,
    mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN,
    timeouts,
    polls,
    samples,
  };
}
