/**
 * The query path without sockets: `node --import tsx bench/pipeline.ts [--dist DIR]...`
 * Boots one or more builds of clusterdns (default: dist/), each in its own plain-node child process
 * (bench/pipeline-child.mjs) on the benchmark's Corefile and synthetic cluster served by the API
 * double in this process, and feeds the dnsperf query mix straight into each build's dispatcher:
 * parse → chain → reply bytes, with a send() that drops them. Prints CPU µs per query
 * (process.cpuUsage in the child, median of rounds, builds alternated): what a hot-path change
 * moves, without the kernel's share of a UDP query (≈15–20 µs on the bench VM) or dnsperf's noise.
 * Several --dist directories (tsc outDirs) give an A/B comparison under the same conditions.
 *
 *   --dist DIR      a build output directory; repeatable
 *   --queries N     queries per round (default 200000)
 *   --rounds R      (default 7)
 *   --cache         the Corefile with the cache enabled for cluster.local
 *   --filter RE     only the queries of the mix whose "name TYPE" line matches RE (e.g. '^hl-')
 *   --node-arg A    passed to the children's node (e.g. --cpu-prof); repeatable
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringToType } from '../src/dns/constants.js';
import { encodeMessage } from '../src/dns/encode.js';
import { emptyHeader } from '../src/dns/message.js';
import { startFakeKubeApi, writeKubeconfig } from '../test/support/fake-kube-api.js';
import { freePort } from '../test/support/ports.js';
import { clusterObjects, queryFile, type ClusterSpec } from './cluster.js';
import { corefile } from './clusterdns.js';
import { median } from './report.js';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'pipeline-child.mjs');

interface Build {
  dist: string;
  child: ChildProcess;
  rounds: number[];
}

function reply(child: ChildProcess): Promise<{ us?: number; ready?: boolean }> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`pipeline child exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as { us?: number; ready?: boolean });
    });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dists: string[] = [];
  const nodeArgs: string[] = [];
  let n = 200_000;
  let rounds = 7;
  let cache = false;
  let filter: RegExp | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--dist') dists.push(path.resolve(argv[++i]!));
    else if (a === '--queries') n = Number(argv[++i]);
    else if (a === '--rounds') rounds = Number(argv[++i]);
    else if (a === '--cache') cache = true;
    else if (a === '--filter') filter = new RegExp(argv[++i]!);
    else if (a === '--node-arg') nodeArgs.push(argv[++i]!);
    else throw new Error(`unknown flag ${a}`);
  }
  if (dists.length === 0) dists.push(path.resolve('dist'));
  const spec: ClusterSpec = { services: 5000, headless: 500, endpoints: 10, namespaces: 50 };
  const api = await startFakeKubeApi({ bookmarkMs: 0 });
  api.apply([...clusterObjects(spec)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-pipeline-'));
  const kubeconfig = writeKubeconfig(dir, api.url);
  // The dnsperf mix as wire queries (RD set, no EDNS, as dnsperf sends them by default).
  const wire = queryFile(spec, 100_000).trim().split('\n').filter((line) => !filter || filter.test(line)).map((line, i) => {
    const [name, type] = line.split(' ');
    return encodeMessage({ ...emptyHeader(i & 0xffff), rd: true, questions: [{ name: `${name}.`, type: stringToType(type!)!, class: 1 }], answers: [], authorities: [], additionals: [] });
  });
  const queries = path.join(dir, 'queries.bin');
  fs.writeFileSync(queries, Buffer.concat(wire.flatMap((q) => [Buffer.from([q.length >> 8, q.length & 0xff]), q])));
  const builds: Build[] = [];
  try {
    for (const dist of dists) {
      const file = path.join(dir, `Corefile-${builds.length}`);
      fs.writeFileSync(file, corefile({ port: await freePort(), readyPort: await freePort(), healthPort: await freePort(), metricsPort: await freePort(), kubeconfig, cacheClusterLocal: cache, ttl: 30 }));
      const child = fork(CHILD, [dist, file, queries], { execArgv: nodeArgs, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await reply(child);
      builds.push({ dist, child, rounds: [] });
    }
    const run = async (b: Build, count: number): Promise<number> => {
      const r = reply(b.child);
      b.child.send({ count });
      return (await r).us!;
    };
    for (const b of builds) await run(b, wire.length); // warm-up: JIT and memo
    for (let r = 0; r < rounds; r++) for (const b of builds) b.rounds.push(await run(b, n));
    for (const b of builds) {
      process.stdout.write(`${b.dist}: ${median(b.rounds).toFixed(2)} µs/query (rounds: ${b.rounds.map((x) => x.toFixed(2)).join(' ')})\n`);
    }
  } finally {
    for (const b of builds) {
      const exited = new Promise((r) => b.child.once('exit', r));
      b.child.send({ stop: true });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (b.child.exitCode === null) b.child.kill('SIGKILL');
    }
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
