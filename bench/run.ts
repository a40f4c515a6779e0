/**
 * `npm run bench`: clusterdns serving a synthetic cluster, against knotd serving the same records.
 * Prints figures; never fails on a time. See bench/README.md for what each figure means.
 *
 *   --services N      ClusterIP Services (default 5000)
 *   --headless N      headless Services (default 500)
 *   --endpoints N     ready endpoints per headless Service (default 10)
 *   --namespaces N    (default 50)
 *   --seconds S       per dnsperf run (default 10)
 *   --rounds R        throughput rounds, servers interleaved (default 3; the median is reported)
 *   --workers LIST    clusterdns worker counts to measure, e.g. 1,2 (default 1,2)
 *   --scale-services N, --scale-headless N   the large cluster (default 100000 and 10000)
 *   --skip-knot --skip-scale --skip-watch    leave a part out
 *   --quick           3 s runs, 1 round, a 20k-object "large" cluster, short watch test
 *   --json FILE       also write every figure as JSON
 *   --cpu-prof DIR    run clusterdns (1 worker, cache off) under `node --cpu-prof` into DIR
 *   --watch-load-qps N  DNS load during the watch → answer run under load (default: the latency run's rate)
 *   --node-options S  NODE_OPTIONS for clusterdns (default: the value deploy/deployment.yaml sets,
 *                     so the figures are those of the deployed server; "" for Node's defaults)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi } from '../test/support/fake-kube-api.js';
import { freePort } from '../test/support/ports.js';
import { clusterObjects, objectCount, QUERY_MIX, queryFile, zoneFile, type ClusterSpec } from './cluster.js';
import { corefile, startClusterDns, type ClusterDns } from './clusterdns.js';
import { runDnsperf, type DnsperfResult } from './dnsperf.js';
import { startKnot, type KnotServer } from './knot.js';
import { cpuSeconds, memory, sampleMemory, type MemSample } from './proc.js';
import { fmt, median, section, table } from './report.js';
import { measureWatchToAnswer, type WatchResult } from './watch.js';

interface Flags {
  spec: ClusterSpec;
  scale: ClusterSpec;
  seconds: number;
  rounds: number;
  workers: number[];
  skipKnot: boolean;
  skipScale: boolean;
  skipWatch: boolean;
  watchSeconds: number;
  json: string | undefined;
  cpuProf: string | undefined;
  nodeOptions: string;
  /** Offered DNS load during the watch → answer run "under load" (default: the latency run's rate). */
  watchLoadQps: number | undefined;
  quick: boolean;
  /** dnsperf shape, chosen once for every server. */
  clients: number;
  threads: number;
  outstanding: number;
}

/** The NODE_OPTIONS the Deployment gives the container (heap cap, 1 MB semi-space), so the bench measures that. */
function deployedNodeOptions(): string {
  const file = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'deploy', 'deployment.yaml');
  type Container = { env?: Array<{ name: string; value?: string }> };
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } });
  const containers = docs.find((d) => d?.kind === 'Deployment')?.spec?.template?.spec?.containers ?? [];
  const value = containers.flatMap((c) => c.env ?? []).find((e) => e.name === 'NODE_OPTIONS')?.value;
  if (value === undefined) throw new Error(`${file}: no NODE_OPTIONS in the Deployment (the bench runs clusterdns with the deployed one)`);
  return value;
}

function parseFlags(argv: string[]): Flags {
  const quick = argv.includes('--quick');
  const f: Flags = {
    spec: { services: 5000, headless: 500, endpoints: 10, namespaces: 50 },
    scale: quick ? { services: 10_000, headless: 1000, endpoints: 10, namespaces: 50 } : { services: 100_000, headless: 10_000, endpoints: 10, namespaces: 50 },
    seconds: quick ? 3 : 10,
    rounds: quick ? 1 : 3,
    workers: [1, 2],
    skipKnot: false,
    skipScale: false,
    skipWatch: false,
    watchSeconds: quick ? 3 : 10,
    json: undefined,
    cpuProf: undefined,
    nodeOptions: deployedNodeOptions(),
    watchLoadQps: undefined,
    quick,
    clients: 4,
    threads: 2,
    outstanding: 200,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = val();
      if (!/^\d+$/.test(v)) throw new Error(`${a}: not a number: ${v}`);
      return Number(v);
    };
    switch (a) {
      case '--quick': break;
      case '--services': f.spec.services = int(); break;
      case '--headless': f.spec.headless = int(); break;
      case '--endpoints': f.spec.endpoints = f.scale.endpoints = int(); break;
      case '--namespaces': f.spec.namespaces = f.scale.namespaces = int(); break;
      case '--scale-services': f.scale.services = int(); break;
      case '--scale-headless': f.scale.headless = int(); break;
      case '--seconds': f.seconds = int(); break;
      case '--rounds': f.rounds = Math.max(1, int()); break;
      case '--watch-seconds': f.watchSeconds = int(); break;
      case '--workers': f.workers = val().split(',').map(Number).filter((n) => n >= 1); break;
      case '--outstanding': f.outstanding = int(); break;
      case '--clients': f.clients = int(); break;
      case '--threads': f.threads = int(); break;
      case '--skip-knot': f.skipKnot = true; break;
      case '--skip-scale': f.skipScale = true; break;
      case '--skip-watch': f.skipWatch = true; break;
      case '--json': f.json = val(); break;
      case '--cpu-prof': f.cpuProf = path.resolve(val()); break;
      case '--node-options': f.nodeOptions = val(); break;
      case '--watch-load-qps': f.watchLoadQps = int(); break;
      default: throw new Error(`unknown flag ${a}`);
    }
  }
  if (f.spec.services === 0) throw new Error('--services must be at least 1 (the query mix needs ClusterIP Services)');
  return f;
}

const TTL = 30;

interface ServerUnderTest {
  label: string;
  port: number;
  pid: number;
  runs: DnsperfResult[];
  latency?: DnsperfResult;
  idle?: MemSample;
  load?: MemSample;
  cpuPerSecond: number[];
  readyMs?: number;
  listDoneToReadyMs?: number;
  /** RSS SETTLE_MS after /ready with no query in between: after V8's memory reducer has run. */
  settled?: MemSample;
}

/**
 * V8 shrinks an idle heap ~8 s after allocation stops (its memory reducer,
 * --gc-memory-reducer-start-delay-ms); the RSS an idle server settles at is measured after that.
 */
const SETTLE_MS = 12_000;

async function settle(server: ClusterDns, sut: ServerUnderTest): Promise<void> {
  const wait = server.startedAt + sut.readyMs! + SETTLE_MS - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  sut.settled = memory(sut.pid);
  log(`${sut.label}: RSS ${fmt(sut.settled.rssMb)} MB ${SETTLE_MS / 1000} s after /ready`);
}

/** CPU pressure (Linux PSI, "some avg60": % of time some runnable task waited for a CPU), if available. */
function cpuPressure(): string {
  try {
    const m = /some avg10=([\d.]+) avg60=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? `CPU pressure (PSI some) avg10 ${m[1]}% avg60 ${m[2]}%` : '';
  } catch {
    return '';
  }
}

/** Logs a line with the elapsed time, so a long run shows where it is. */
const t0 = performance.now();
function log(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
}

async function loadApi(spec: ClusterSpec): Promise<FakeKubeApi> {
  const api = await startFakeKubeApi({ bookmarkMs: 0, historyLimit: 100_000 });
  const batch: ReturnType<typeof clusterObjects> extends Generator<infer T> ? T[] : never = [];
  for (const o of clusterObjects(spec)) {
    batch.push(o);
    if (batch.length === 5000) api.apply(batch.splice(0));
  }
  if (batch.length > 0) api.apply(batch);
  return api;
}

/**
 * Follows the API double's request log while clusterdns starts: the time the last list response
 * was sent (its 'finish'), so "ready after the list completed" can be told from "the list took long".
 */
function watchListCompletion(api: FakeKubeApi): { stop(): number | undefined } {
  let finished = 0;
  let lastAt: number | undefined;
  const timer = setInterval(() => {
    const n = api.stats().requests.filter((r) => r.verb === 'list' && r.status !== 0).length;
    if (n > finished) {
      finished = n;
      lastAt = performance.now();
    }
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return lastAt;
    },
  };
}

/**
 * The deployed NODE_OPTIONS with the V8 heap cap raised as deploy/deployment.yaml tells operators
 * to for larger clusters (about 200 MB per 100k objects above the 10k it is sized for).
 */
function nodeOptionsFor(f: Flags, objects: number): string {
  const extra = Math.max(0, Math.ceil(((objects - 10_000) / 100_000) * 200));
  if (extra === 0) return f.nodeOptions;
  return f.nodeOptions.replace(/--max-old-space-size=(\d+)/, (_m, n: string) => `--max-old-space-size=${Number(n) + extra}`);
}

async function startOne(f: Flags, dir: string, kubeconfig: string, api: FakeKubeApi, label: string, workers: number, cacheClusterLocal: boolean, profile: boolean, objects = 10_000): Promise<{ server: ClusterDns; sut: ServerUnderTest }> {
  const port = await freePort();
  const readyPort = await freePort();
  const sub = fs.mkdtempSync(path.join(dir, 'clusterdns-'));
  const text = corefile({ port, readyPort, healthPort: await freePort(), metricsPort: await freePort(), kubeconfig, cacheClusterLocal, ttl: TTL });
  const lists = watchListCompletion(api);
  const server = startClusterDns({
    dir: sub,
    corefile: text,
    readyPort,
    args: workers > 1 ? ['-workers', String(workers)] : [],
    nodeArgs: profile && f.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', f.cpuProf] : [],
    nodeOptions: nodeOptionsFor(f, objects),
  });
  const readyAt = await server.ready;
  const listAt = lists.stop();
  await new Promise((r) => setTimeout(r, 1000));
  const sut: ServerUnderTest = {
    label, port, pid: server.pid, runs: [], cpuPerSecond: [],
    idle: memory(server.pid),
    readyMs: readyAt - server.startedAt,
    ...(listAt !== undefined ? { listDoneToReadyMs: Math.max(0, readyAt - listAt) } : {}),
  };
  log(`${label}: ready in ${fmt(sut.readyMs!)} ms, RSS ${fmt(sut.idle!.rssMb)} MB`);
  return { server, sut };
}

async function throughput(f: Flags, sut: ServerUnderTest, qfile: string): Promise<void> {
  const mem = sampleMemory(sut.pid);
  const cpu0 = cpuSeconds(sut.pid);
  const r = await runDnsperf({ port: sut.port, queryFile: qfile, seconds: f.seconds, clients: f.clients, threads: f.threads, outstanding: f.outstanding });
  const cpu = (cpuSeconds(sut.pid) - cpu0) / r.runSeconds;
  const m = mem.stop();
  if (!sut.load || m.rssMb > sut.load.rssMb) sut.load = m;
  sut.runs.push(r);
  sut.cpuPerSecond.push(cpu);
  log(`${sut.label}: ${fmt(r.qps)} qps, lost ${r.lostPct.toFixed(3)}%, mean ${r.meanMs.toFixed(2)} ms, server CPU ${cpu.toFixed(2)} cores`);
}

async function main(): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-bench-'));
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, kernel: os.release(), loadavg: os.loadavg() },
    spec: f.spec,
    dnsperf: { clients: f.clients, threads: f.threads, outstanding: f.outstanding, seconds: f.seconds, rounds: f.rounds },
  };
  const out: string[] = [];
  const print = (s: string): void => {
    out.push(s);
    process.stdout.write(s + '\n');
  };
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const count = objectCount(f.spec);
    print(section('clusterdns serving benchmark'));
    print(`${new Date().toISOString()}  ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}  node ${process.version}  load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}  ${cpuPressure()}`);
    print(`cluster: ${f.spec.services} ClusterIP Services (named port), ${f.spec.headless} headless × ${f.spec.endpoints} endpoints, ${f.spec.namespaces} namespaces = ${count.services + count.pods} objects`);
    print(`queries: ${QUERY_MIX.map((q) => `${q.share * 100}% ${q.what}`).join(', ')}`);
    print(`clusterdns NODE_OPTIONS: "${f.nodeOptions}" (as deploy/deployment.yaml; the heap cap raised for the large cluster as its comment says)`);
    print(`dnsperf: -c ${f.clients} -T ${f.threads} -q ${f.outstanding} -l ${f.seconds}, ${f.rounds} round(s) with the servers interleaved, median reported`);

    log('loading the API double');
    const api = await loadApi(f.spec);
    let apiOpen = true;
    const closeApi = async (): Promise<void> => {
      if (apiOpen) await api.close();
      apiOpen = false;
    };
    cleanups.push(closeApi);
    const kubeconfig = writeKubeconfig(dir, api.url);
    const qfile = path.join(dir, 'queries.txt');
    fs.writeFileSync(qfile, queryFile(f.spec, 100_000));

    // ---- servers ----
    const suts: ServerUnderTest[] = [];
    let knot: KnotServer | undefined;
    if (!f.skipKnot) {
      const port = await freePort();
      knot = await startKnot({ dir, port, zone: 'cluster.local', zoneText: zoneFile(f.spec, TTL), udpWorkers: os.cpus().length });
      cleanups.push(() => knot!.stop());
      suts.push({ label: `knotd (${knot.workers} UDP workers)`, port, pid: knot.pid, runs: [], cpuPerSecond: [], idle: memory(knot.pid) });
      log(`knotd up on ${port}`);
    }
    const configs: Array<{ label: string; workers: number; cache: boolean; key: string }> = [];
    for (const w of f.workers) configs.push({ label: `clusterdns ${w}w, cache off`, workers: w, cache: false, key: `w${w}` });
    configs.push({ label: `clusterdns ${f.workers[0] ?? 1}w, cache on`, workers: f.workers[0] ?? 1, cache: true, key: 'cache' });
    const servers = new Map<string, { server: ClusterDns; sut: ServerUnderTest }>();
    for (const c of configs) {
      const s = await startOne(f, dir, kubeconfig, api, c.label, c.workers, c.cache, c.workers === 1 && !c.cache);
      cleanups.push(() => s.server.stop());
      servers.set(c.key, s);
      suts.push(s.sut);
    }

    // ---- throughput, interleaved ----
    log('warm-up');
    for (const s of suts) await runDnsperf({ port: s.port, queryFile: qfile, seconds: 2, clients: f.clients, threads: f.threads, outstanding: f.outstanding });
    for (let r = 0; r < f.rounds; r++) {
      log(`round ${r + 1}/${f.rounds}`);
      for (const s of suts) await throughput(f, s, qfile);
    }
    // ---- latency at one fixed offered load for every server ----
    const slowest = Math.min(...suts.map((s) => median(s.runs.map((x) => x.qps))));
    const rate = Math.max(1000, Math.round((slowest * 0.5) / 1000) * 1000);
    for (const s of suts) {
      s.latency = await runDnsperf({ port: s.port, queryFile: qfile, seconds: f.seconds, clients: f.clients, threads: f.threads, outstanding: f.outstanding, maxQps: rate, verbose: true });
      const p = s.latency.percentiles;
      log(`${s.label}: at ${rate} qps: mean ${p?.mean.toFixed(3)} ms, p50 ${p?.p50} ms, p99 ${p?.p99} ms`);
    }

    const knotQps = knot ? median(suts[0]!.runs.map((x) => x.qps)) : NaN;
    print(section('throughput (closed loop) and latency (open loop at a fixed rate)'));
    const rows = suts.map((s) => {
      const qps = median(s.runs.map((x) => x.qps));
      const lost = Math.max(...s.runs.map((x) => x.lostPct));
      const p = s.latency?.percentiles;
      return [
        s.label, qps, knot ? `${(qps / knotQps).toFixed(2)}×` : '-', `${lost.toFixed(3)}%`, median(s.runs.map((x) => x.meanMs)),
        p ? p.mean : NaN, p ? p.p99 : NaN, median(s.cpuPerSecond),
        s.idle ? s.idle.rssMb : NaN, s.load ? s.load.rssMb : NaN, s.load ? s.load.hwmMb : NaN,
      ];
    });
    print(table(['server', 'qps', 'vs knot', 'lost max', 'mean ms', `mean@${rate / 1000}k`, `p99@${rate / 1000}k`, 'CPU cores', 'RSS idle MB', 'RSS load MB', 'VmHWM MB'], rows));
    print(`qps per round: ${suts.map((s) => `${s.label}: ${s.runs.map((x) => fmt(x.qps)).join(' / ')}`).join('; ')}`);
    print(`rcodes (last round): ${suts.map((s) => `${s.label}: ${JSON.stringify(s.runs.at(-1)?.rcodes)}`).join('; ')}`);
    print(`latency: dnsperf -Q ${rate} -v (every reply's time; ${rate} = half the slowest server's throughput, the same offered load for all)`);
    print(`after the serving runs: load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}  ${cpuPressure()}`);
    results.rate = rate;
    results.servers = suts;

    // ---- watch → answer: each server alone on the API double ----
    // Every server still running would hold its own watch: each change would be serialized for and
    // processed by all of them on the same 2 CPUs. So the serving servers stop first, and each
    // measured server is started afresh, alone.
    for (const { server } of servers.values()) await server.stop();
    await knot?.stop();
    if (!f.skipWatch) {
      print(section('watch → answer'));
      const watchRows: Array<Array<string | number>> = [];
      const watch: Record<string, WatchResult> = {};
      for (const workers of f.workers) {
        const s = await startOne(f, dir, kubeconfig, api, `clusterdns ${workers}w, cache off`, workers, false, false);
        // With several workers any of them may answer a poll: wait for 4 answers in a row.
        const consecutive = workers > 1 ? 4 : 1;
        const loadQps = f.watchLoadQps ?? rate;
        const modes = workers === (f.workers[0] ?? 1) ? ([['idle', 0], [`under ${loadQps / 1000}k qps`, loadQps]] as const) : ([['idle', 0]] as const);
        for (const [name, load] of modes) {
          const w = await measureWatchToAnswer({
            api, spec: f.spec, port: s.sut.port, perSecond: 200, seconds: f.watchSeconds, consecutive,
            ...(load > 0 ? { load: { queryFile: qfile, qps: load, clients: f.clients, threads: f.threads } } : {}),
          });
          watch[`${s.sut.label}, ${name}`] = w;
          watchRows.push([`${s.sut.label}, ${name}${consecutive > 1 ? ` (${consecutive} answers in a row)` : ''}`, String(w.changes), w.p50, w.p99, w.max, w.timeouts]);
          log(`watch→answer ${s.sut.label} (${name}): p50 ${w.p50.toFixed(2)} ms, p99 ${w.p99.toFixed(2)} ms over ${w.changes} changes`);
        }
        await s.server.stop();
      }
      print(table(['server', 'changes', 'p50 ms', 'p99 ms', 'max ms', 'not seen in 2 s'], watchRows));
      print('200 EndpointSlice updates/s (one endpoint address moved per update), each polled over UDP until the answer has the new address');
      print(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}  ${cpuPressure()}`);
      results.watch = watch;
    }

    // ---- scale ----
    const scaleRows: Array<Array<string | number>> = [];
    const formula = (s: ClusterSpec): number => 54 + (objectCount(s).pods + objectCount(s).services) / 1000;
    const first = servers.get(`w${f.workers[0] ?? 1}`)?.sut;
    if (first) {
      // The throughput runs started right after `first` was ready: a fresh server, left alone, for the settled figure.
      const idle = await startOne(f, dir, kubeconfig, api, `clusterdns ${f.workers[0] ?? 1}w, cache off, idle`, f.workers[0] ?? 1, false, false);
      cleanups.push(() => idle.server.stop());
      await settle(idle.server, idle.sut);
      await idle.server.stop();
      scaleRows.push([`${count.services + count.pods} objects (${f.spec.services} + ${f.spec.headless}×${f.spec.endpoints})`, first.readyMs!, first.readyMs! - (first.listDoneToReadyMs ?? NaN), first.listDoneToReadyMs ?? NaN, first.idle!.rssMb, idle.sut.settled!.rssMb, first.load?.rssMb ?? NaN, formula(f.spec)]);
    }
    if (!f.skipScale) {
      log(`loading the API double with ${f.scale.services} + ${f.scale.headless}×${f.scale.endpoints}`);
      await closeApi();
      const big = await loadApi(f.scale);
      cleanups.push(() => big.close());
      const bigCount = objectCount(f.scale);
      const kc = writeKubeconfig(fs.mkdtempSync(path.join(dir, 'big-')), big.url);
      const s = await startOne(f, dir, kc, big, `clusterdns 1w, ${bigCount.services + bigCount.pods} objects`, 1, false, false, bigCount.services + bigCount.pods);
      cleanups.push(() => s.server.stop());
      await settle(s.server, s.sut);
      const bigQueries = path.join(dir, 'queries-big.txt');
      fs.writeFileSync(bigQueries, queryFile(f.scale, 100_000));
      await runDnsperf({ port: s.sut.port, queryFile: bigQueries, seconds: 2, clients: f.clients, threads: f.threads, outstanding: f.outstanding });
      await throughput(f, s.sut, bigQueries);
      scaleRows.push([
        `${bigCount.services + bigCount.pods} objects (${f.scale.services} + ${f.scale.headless}×${f.scale.endpoints})`,
        s.sut.readyMs!, s.sut.readyMs! - (s.sut.listDoneToReadyMs ?? NaN), s.sut.listDoneToReadyMs ?? NaN, s.sut.idle!.rssMb, s.sut.settled!.rssMb, s.sut.load?.rssMb ?? NaN, formula(f.scale),
      ]);
      results.scale = { spec: f.scale, sut: s.sut };
      await s.server.stop();
    }
    print(section('start-up and memory at scale (1 worker, cache off)'));
    print(table(['cluster', 'start→/ready ms', 'start→list done ms', 'list done→/ready ms', 'RSS idle MB', `RSS idle ${SETTLE_MS / 1000} s MB`, 'RSS load MB', 'CoreDNS formula MB'], scaleRows));
    print('list done: the API double sent the last list page; RSS idle: 1 s after /ready, and after 12 s with no query (V8 shrinks an idle heap after ~8 s); CoreDNS sizing formula: 54 MB + (pods + services) / 1000 MB, pods = endpoints here');
    if (f.cpuProf) print(`CPU profile of clusterdns 1w cache off written to ${f.cpuProf}`);
    if (f.json) fs.writeFileSync(f.json, JSON.stringify({ ...results, text: out.join('\n') }, null, 2));
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
