/**
 * API-server chaos: the real server watching the Kubernetes API test double while faults are
 * injected in a loop, clients query without pause, and the cluster keeps changing.
 *
 * The model: `SERVICES` headless Services h0..hN in namespace `chaos`, each with one endpoint, so
 * h<i>.chaos.svc.cluster.local is either one address or NXDOMAIN. Every change bumps the name's
 * version. What a client may get for a name at any time is the answer of the version the server
 * had when the current fault began, or of any version since: the last known state while the API is
 * away, the new one once it converged. Anything else (an older version, SERVFAIL, a lost query) is
 * wrong. After each fault the harness waits until every name answers its current version and
 * records how long that took.
 *
 * Faults, in a loop: drop (watch connections reset), 410 (history compacted, then a dropped watch
 * must re-list), 500 (lists fail N times on the re-list), outage (every API connection refused
 * for `outageMs`), hang (the API server accepts and never answers for `hangMs`; the client must
 * give up through its request and idle timeouts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rcode, RRType } from '../../src/dns/constants.js';
import type { Message } from '../../src/dns/message.js';
import { query } from '../support/dns-client.js';
import { startFakeKubeApi, writeKubeconfig, type KubeObject } from '../support/fake-kube-api.js';
import { freePort } from '../support/ports.js';
import { startServer, type ServerProcess } from '../support/server-process.js';
import { metricsText, metricSum, rssKiB, type Probe } from '../fuzz/target.js';
import { startLoad, type LoadResult } from './load.js';

export type FaultKind = 'drop' | '410' | '500' | 'outage' | 'hang';

export interface ChaosOptions {
  services: number;
  rounds: FaultKind[];
  outageMs: number;
  hangMs: number;
  /** Changes made during each fault. */
  changesPerFault: number;
  /** Convergence after a fault must take at most this long. */
  convergeMs: number;
  udpWorkers: number;
  tcpWorkers: number;
  env: NodeJS.ProcessEnv;
  log?: (s: string) => void;
}

export interface ChaosResult {
  load: LoadResult;
  convergence: Array<{ fault: FaultKind; ms: number }>;
  changes: number;
  failuresCounted: number;
  /** Watch failure lines the server logged, and its log lines in all. */
  failureLogLines: number;
  logLines: number;
  /** Failure log lines during the longest outage. */
  outageLogLines: number;
  rssKiB: { start: number; end: number };
  problems: string[];
}

const ZONE = 'cluster.local.';
const nameOf = (i: number): string => `h${i}.chaos.svc.${ZONE}`;

function objects(i: number, ip: string): KubeObject[] {
  return [
    {
      apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'chaos', name: `h${i}` },
      spec: { clusterIP: 'None', clusterIPs: ['None'], selector: { app: `h${i}` }, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { namespace: 'chaos', name: `h${i}-a`, labels: { 'kubernetes.io/service-name': `h${i}` } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: [ip], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: 'chaos', name: `h${i}-pod` } }],
    },
  ];
}

const answerOf = (m: Message): string =>
  m.rcode === Rcode.NXDOMAIN ? 'NXDOMAIN' : m.rcode === Rcode.NOERROR ? m.answers.map((r) => ('address' in r ? r.address : '?')).sort().join(',') || 'NODATA' : `rcode ${m.rcode}`;

export async function runApiChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => undefined);
  const problems: string[] = [];
  // versions[i]: every answer h<i> has had, oldest first; floor[i]: the oldest one still allowed.
  const versions: string[][] = [];
  const floor: number[] = [];
  let ipSeq = 1;
  const nextIp = (): string => {
    ipSeq++;
    return `10.60.${(ipSeq >> 8) & 0xff}.${ipSeq & 0xff}`;
  };
  const initial: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'chaos' } }];
  for (let i = 0; i < o.services; i++) {
    const ip = nextIp();
    initial.push(...objects(i, ip));
    versions.push([ip]);
    floor.push(0);
  }
  const api = await startFakeKubeApi({ objects: initial, bookmarkMs: 300 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-chaos-'));
  const kubeconfig = writeKubeconfig(dir, api.url);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const srv: ServerProcess = await startServer(`.:${port} {
    prometheus 127.0.0.1:${metricsPort}
    kubernetes cluster.local {
        kubeconfig ${kubeconfig}
        ttl 0
    }
}
`, { env: o.env });
  const pid = srv.proc.pid!;
  const rssStart = rssKiB(pid);

  const probes: Probe[] = versions.map((_, i) => ({
    name: nameOf(i), type: RRType.A,
    check: (m) => {
      const got = answerOf(m);
      const allowed = versions[i]!.slice(floor[i]!);
      return allowed.includes(got) ? undefined : `${nameOf(i)}: ${got}, allowed ${allowed.join(' | ')} (history ${versions[i]!.join(' > ')})`;
    },
  }));
  const current = (i: number): string => versions[i]![versions[i]!.length - 1]!;
  let changes = 0;
  const change = (): void => {
    const i = Math.floor(Math.random() * o.services);
    changes++;
    if (current(i) === 'NXDOMAIN') {
      const ip = nextIp();
      versions[i]!.push(ip);
      api.apply(objects(i, ip));
    } else if (Math.random() < 0.3) {
      versions[i]!.push('NXDOMAIN');
      api.remove('EndpointSlice', 'chaos', `h${i}-a`);
      api.remove('Service', 'chaos', `h${i}`);
    } else {
      const ip = nextIp();
      versions[i]!.push(ip);
      api.apply(objects(i, ip)[1]!);
    }
  };
  const converged = async (): Promise<boolean> => {
    for (let i = 0; i < o.services; i++) {
      if (answerOf(await query(port, nameOf(i), RRType.A, { timeoutMs: 2000 })) !== current(i)) return false;
    }
    return true;
  };
  const untilConverged = async (fault: FaultKind, since: number): Promise<number> => {
    while (!(await converged())) {
      if (Date.now() - since > o.convergeMs + 30_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = Date.now() - since;
    if (ms > o.convergeMs) problems.push(`${fault}: converged ${ms} ms after the API came back (bound ${o.convergeMs} ms)`);
    // Everything older than the current version is wrong from now on.
    for (let i = 0; i < o.services; i++) floor[i] = versions[i]!.length - 1;
    return ms;
  };

  const convergence: ChaosResult['convergence'] = [];
  const logLinesNow = (): number => (srv.stdout() + srv.stderr()).split('\n').filter((l) => /list\/watch failed/.test(l)).length;
  let outageLogLines = 0;
  await untilConverged('drop', Date.now());
  const load = startLoad({ port, probes, udpWorkers: o.udpWorkers, tcpWorkers: o.tcpWorkers });
  try {
    for (const [n, fault] of o.rounds.entries()) {
      const spread = async (ms: number): Promise<void> => {
        for (let c = 0; c < o.changesPerFault; c++) {
          change();
          await new Promise((r) => setTimeout(r, ms / o.changesPerFault));
        }
      };
      const before = logLinesNow();
      log(`round ${n + 1}/${o.rounds.length}: ${fault}`);
      switch (fault) {
        case 'drop':
          api.dropWatches();
          await spread(300);
          api.dropWatches();
          break;
        case '410':
          await spread(200);
          api.compact();
          api.dropWatches();
          break;
        case '500':
          api.injectFailure({ status: 500, count: 8, verbs: ['list'] });
          api.compact();
          api.dropWatches();
          await spread(1000);
          break;
        case 'outage': {
          const outage = api.setOutage(o.outageMs);
          await spread(o.outageMs * 0.8);
          await outage;
          outageLogLines = Math.max(outageLogLines, logLinesNow() - before);
          break;
        }
        case 'hang':
          api.hang(true);
          await spread(o.hangMs);
          api.hang(false);
          break;
      }
      const ms = await untilConverged(fault, Date.now());
      convergence.push({ fault, ms });
      log(`  converged in ${ms} ms; ${load.result.udp.answered + load.result.tcp.answered} answered so far, ${load.result.udp.wrong.length + load.result.tcp.wrong.length} wrong, ${load.result.udp.lost.length + load.result.tcp.lost.length} lost`);
    }
  } finally {
    await load.stop();
  }
  const m = await metricsText(metricsPort);
  const result: ChaosResult = {
    load: load.result,
    convergence,
    changes,
    failuresCounted: metricSum(m, 'clusterdns_kubernetes_watch_failures_total'),
    failureLogLines: logLinesNow(),
    logLines: (srv.stdout() + srv.stderr()).split('\n').length,
    outageLogLines,
    rssKiB: { start: rssStart, end: rssKiB(pid) },
    problems,
  };
  await srv.stop();
  await api.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return result;
}
