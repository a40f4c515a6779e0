/**
 * The server every hardening test and long run attacks: the real CLI (dist/cli.js) with whoami,
 * hosts, file, kubernetes (snapshot of zones/demo-cluster.yaml) and cache, plus prometheus so the
 * tests can read what the server counted (panics, malformed packets, requests).
 *
 * Also: the known-good answers a liveness probe checks, a /metrics reader and RSS from /proc.
 */
import { waitUntil } from '../support/wait.js';
import fs from 'node:fs';
import path from 'node:path';
import { Rcode, RRType } from '../../src/dns/constants.js';
import type { Message } from '../../src/dns/message.js';
import { freePort } from '../support/ports.js';
import { startServer, type ServerProcess, type StartOptions } from '../support/server-process.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export const bigHosts = Array.from({ length: 120 }, (_, i) => `10.7.${Math.floor(i / 200)}.${(i % 200) + 1} big.hosts.test`).join('\n');

export interface Target {
  srv: ServerProcess;
  port: number;
  metricsPort: number;
  pid: number;
}

export interface TargetOptions {
  /** Extra lines inside the main server block. */
  extra?: string;
  /** Extra server blocks. */
  blocks?: (port: number, metricsPort: number) => string;
  env?: NodeJS.ProcessEnv;
  /** Cache capacity (success and denial), default CoreDNS's 10000. */
  cacheCapacity?: number;
  /** Omit the cache plugin. */
  noCache?: boolean;
  /** Add the `any` plugin (RFC 8482 HINFO answers) to every block. */
  anyPlugin?: boolean;
  /** The hosts file of hosts.test (default hosts.txt). */
  hostsFile?: string;
  files?: Record<string, string>;
}

export function targetCorefile(port: number, metricsPort: number, o: TargetOptions = {}): string {
  const cache = o.noCache ? '' : o.cacheCapacity ? `    cache 30 {\n        success ${o.cacheCapacity}\n        denial ${o.cacheCapacity}\n    }\n` : '    cache 30\n';
  const any = o.anyPlugin ? '    any\n' : '';
  return `cluster.local:${port} in-addr.arpa:${port} {
    prometheus 127.0.0.1:${metricsPort}
${any}${cache}    kubernetes cluster.local in-addr.arpa {
        snapshot demo-cluster.yaml
        pods insecure
    }
${o.extra ?? ''}}
example.org:${port} {
    prometheus 127.0.0.1:${metricsPort}
${any}${cache}    file example.org.db example.org
}
hosts.test:${port} {
    prometheus 127.0.0.1:${metricsPort}
${any}${cache}    hosts ${o.hostsFile ?? 'hosts.txt'}
}
test:${port} {
    prometheus 127.0.0.1:${metricsPort}
${any}    whoami
}
${o.blocks ? o.blocks(port, metricsPort) : ''}`;
}

export async function startTarget(o: TargetOptions & Pick<StartOptions, 'args'> = {}): Promise<Target> {
  const port = await freePort();
  const metricsPort = await freePort();
  const srv = await startServer(targetCorefile(port, metricsPort, o), {
    files: {
      'demo-cluster.yaml': fs.readFileSync(path.join(root, 'zones', 'demo-cluster.yaml'), 'utf8'),
      'example.org.db': fs.readFileSync(path.join(root, 'zones', 'example.org.db'), 'utf8'),
      'hosts.txt': `192.0.2.1 www.hosts.test\n2001:db8::1 www.hosts.test\n${bigHosts}\n`,
      ...o.files,
    },
    ...(o.env ? { env: o.env } : {}),
    ...(o.args ? { args: o.args } : {}),
  });
  // kubernetes (snapshot) must have synced before the probes mean anything.
  await waitUntil(async () => (await metricsText(metricsPort).catch(() => '')).includes('coredns_build_info'), 10_000, 'metrics endpoint');
  return { srv, port, metricsPort, pid: srv.proc.pid! };
}

export { waitUntil } from '../support/wait.js';

export async function metricsText(metricsPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  return res.text();
}

/** The sum of every sample of a metric whose labels contain all of `match` (e.g. 'action="drop"'). */
export function metricSum(text: string, name: string, ...match: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (!match.every((m) => rest.includes(m))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Resident set size of a process in KiB (VmRSS from /proc/PID/status). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** A query with a known correct answer, and the check of that answer. */
export interface Probe {
  name: string;
  type: number;
  check: (m: Message) => string | undefined;
}

const addresses = (m: Message): string[] => m.answers.map((r) => ('address' in r ? r.address : '')).sort();

export const PROBES: Probe[] = [
  {
    name: 'web.demo.svc.cluster.local.', type: RRType.A,
    check: (m) => (m.rcode === Rcode.NOERROR && addresses(m).join(',') === '10.96.10.20' ? undefined : `web.demo A: rcode ${m.rcode} ${addresses(m).join(',')}`),
  },
  {
    name: 'www.example.org.', type: RRType.A,
    check: (m) => (m.rcode === Rcode.NOERROR && addresses(m).join(',') === '192.0.2.10' ? undefined : `www.example.org A: rcode ${m.rcode} ${addresses(m).join(',')}`),
  },
  {
    name: 'www.hosts.test.', type: RRType.AAAA,
    check: (m) => (m.rcode === Rcode.NOERROR && addresses(m).join(',') === '2001:db8::1' ? undefined : `www.hosts.test AAAA: rcode ${m.rcode} ${addresses(m).join(',')}`),
  },
  {
    name: 'nothere.demo.svc.cluster.local.', type: RRType.A,
    check: (m) => (m.rcode === Rcode.NXDOMAIN && m.answers.length === 0 ? undefined : `nothere.demo: rcode ${m.rcode}`),
  },
  {
    name: 'me.test.', type: RRType.A,
    check: (m) => (m.rcode === Rcode.NOERROR && m.additionals.some((r) => r.type === RRType.A && 'address' in r && r.address === '127.0.0.1') ? undefined : `whoami: rcode ${m.rcode}`),
  },
];
