/**
 * Micro-benchmark of the record store and lookup (figures quoted at the top of record-store.ts).
 *   node --expose-gc --import tsx src/kubernetes/record-store.bench.ts
 * Under tsx, imported bindings go through getters and lookups run ~20% slower; the quoted
 * figures come from the tsc output of this file (`npx tsc --outDir ... this-file`).
 */
import { RRType } from '../dns/constants.js';
import { lookup, type LookupOptions } from './lookup.js';
import { AnswerMemo } from './memo.js';
import type { SlimEndpoint, SlimEndpointSlice, SlimService } from './objects.js';
import { RecordStore } from './record-store.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const NAMESPACES = 100;

function ip4(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function clusterIp(i: number): SlimService {
  return {
    namespace: `ns-${i % NAMESPACES}`, name: `svc-${i}`, type: 'ClusterIP', clusterIPs: [ip4(i)], headless: false,
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }], publishNotReadyAddresses: false,
  };
}

function headless(i: number): SlimService {
  return {
    namespace: `ns-${i % NAMESPACES}`, name: `hdls-${i}`, type: 'ClusterIP', clusterIPs: [], headless: true,
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }], publishNotReadyAddresses: false,
  };
}

function headlessSlice(i: number, perService: number): SlimEndpointSlice {
  const endpoints: SlimEndpoint[] = [];
  for (let j = 0; j < perService; j++) {
    const n = i * perService + j;
    endpoints.push({
      addresses: [`100.${64 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`],
      ready: true, serving: true, terminating: false, nodeName: `node-${j}`, podName: `hdls-${i}-${j}`,
    });
  }
  return {
    namespace: `ns-${i % NAMESPACES}`, name: `hdls-${i}-abcde`, serviceName: `hdls-${i}`, addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }], endpoints,
  };
}

function load(store: RecordStore, services: number, headlessCount: number, perService: number): void {
  for (let n = 0; n < NAMESPACES; n++) store.upsertNamespace({ name: `ns-${n}` });
  for (let i = 0; i < services; i++) store.upsertService(clusterIp(i));
  for (let i = 0; i < headlessCount; i++) {
    store.upsertService(headless(i));
    store.upsertEndpointSlice(headlessSlice(i, perService));
  }
}

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

// ---- lookups/s ----
{
  const store = new RecordStore();
  load(store, 5_000, 500, 10);
  const opts: LookupOptions = { primaryZone: 'cluster.local.' };
  const names = Array.from({ length: 5_000 }, (_, i) => `svc-${i}.ns-${i % NAMESPACES}.svc.cluster.local.`);
  const run = (label: string, fn: (name: string) => unknown): void => {
    for (let i = 0; i < 200_000; i++) fn(names[i % names.length] as string); // warm-up
    const n = 2_000_000;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn(names[i % names.length] as string);
    const ns = Number(process.hrtime.bigint() - t0);
    const c = process.cpuUsage(c0);
    const cpuNs = (c.user + c.system) * 1000;
    // Per CPU-second as well as wall-clock: the first is what a loaded machine cannot distort much.
    console.log(`${label}: ${Math.round(n / (cpuNs / 1e9)).toLocaleString('en-US')} /CPU-s (${(cpuNs / n).toFixed(0)} ns CPU each); wall ${Math.round(n / (ns / 1e9)).toLocaleString('en-US')} /s`);
  };
  run('lookup() ClusterIP A', (name) => lookup(store, opts, name, RRType.A, 'cluster.local.'));
  const memo = new AnswerMemo<object>(store);
  run('memo hit (version check) ClusterIP A', (name) => {
    const hit = memo.get(name, RRType.A);
    if (hit) return hit;
    const a = lookup(store, opts, name, RRType.A, 'cluster.local.');
    memo.set(name, RRType.A, a.deps, a);
    return a;
  });
  const hnames = Array.from({ length: 500 }, (_, i) => `hdls-${i}.ns-${i % NAMESPACES}.svc.cluster.local.`);
  let k = 0;
  run('lookup() headless A (10 endpoints)', () => lookup(store, opts, hnames[k++ % 500] as string, RRType.A, 'cluster.local.'));
}

// ---- heap per object ----
{
  const before = heapUsed();
  const store = new RecordStore();
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < NAMESPACES; n++) store.upsertNamespace({ name: `ns-${n}` });
  for (let i = 0; i < 100_000; i++) store.upsertService(clusterIp(i));
  const t1 = process.hrtime.bigint();
  const mid = heapUsed();
  for (let i = 0; i < 10_000; i++) {
    store.upsertService(headless(i));
    store.upsertEndpointSlice(headlessSlice(i, 10));
  }
  const t2 = process.hrtime.bigint();
  const after = heapUsed();
  const mb = (b: number): string => `${(b / 1048576).toFixed(1)} MB`;
  console.log(`100k ClusterIP services: ${mb(mid - before)}, ${Math.round((mid - before) / 100_000)} B/service; load ${Math.round(100_000 / (Number(t1 - t0) / 1e9)).toLocaleString('en-US')} upserts/s`);
  console.log(`10k headless × 10 endpoints: ${mb(after - mid)}, ${Math.round((after - mid) / 10_000)} B/service (${Math.round((after - mid) / 100_000)} B/endpoint); load ${Math.round(20_000 / (Number(t2 - t1) / 1e9)).toLocaleString('en-US')} upserts/s`);
  console.log(`total ${mb(after - before)} for 110k services + 100k endpoints`, store.stats());
}
