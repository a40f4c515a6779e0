/**
 * clusterdns as the benchmark serves it: the real CLI (dist/cli.js) spawned on a kubeadm-style
 * Corefile whose kubernetes block reads the API test double through a kubeconfig.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { privateNodeCopy } from '../test/support/private-node.js';
import { httpStatus } from './probe.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const CLI = path.join(root, 'dist', 'cli.js');

export interface CorefileOptions {
  port: number;
  readyPort: number;
  healthPort: number;
  metricsPort: number;
  kubeconfig: string;
  /** false: kubeadm's `disable success/denial cluster.local` (every query reaches the kubernetes plugin). */
  cacheClusterLocal: boolean;
  ttl: number;
}

/**
 * kubeadm's default Corefile (forward, loop and reload left out: no upstream exists here, and
 * none of them is on the path of a cluster.local query), with loopback HTTP ports.
 */
export function corefile(o: CorefileOptions): string {
  const cache = o.cacheClusterLocal
    ? '    cache 30\n'
    : '    cache 30 {\n        disable success cluster.local\n        disable denial cluster.local\n    }\n';
  return `.:${o.port} {
    errors
    health 127.0.0.1:${o.healthPort}
    ready 127.0.0.1:${o.readyPort}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig ${o.kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl ${o.ttl}
    }
    prometheus 127.0.0.1:${o.metricsPort}
${cache}    loadbalance
}
`;
}

export interface ClusterDns {
  proc: ChildProcess;
  pid: number;
  startedAt: number;
  /** Resolves with the time /ready first answered 200 (performance.now() ms). */
  ready: Promise<number>;
  output(): string;
  stop(): Promise<void>;
}

export function startClusterDns(o: { dir: string; corefile: string; readyPort: number; args?: string[]; nodeArgs?: string[]; nodeOptions?: string }): ClusterDns {
  const file = path.join(o.dir, 'Corefile');
  fs.writeFileSync(file, o.corefile);
  // Its own copy of node, as in its Pod: the kernel pages out (src/server/page-out.ts) only pages
  // that no other process maps, and this bench process is node too. (Not on tmpfs: see private-node.ts.)
  const copy = privateNodeCopy();
  const node = copy.node;
  const startedAt = performance.now();
  const proc = spawn(node, [...(o.nodeArgs ?? []), CLI, '-conf', file, ...(o.args ?? [])], {
    cwd: o.dir,
    env: { ...process.env, CLUSTERDNS_LOG_LEVEL: 'warn', ...(o.nodeOptions !== undefined ? { NODE_OPTIONS: o.nodeOptions } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => {
    copy.remove();
    r();
  }));
  const ready = (async (): Promise<number> => {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`clusterdns exited (${proc.exitCode}) before /ready:\n${out}`);
      if ((await httpStatus(`http://127.0.0.1:${o.readyPort}/ready`, 500)) === 200) return performance.now();
      if (performance.now() - startedAt > 180_000) throw new Error(`clusterdns not ready after 180 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    proc,
    pid: proc.pid!,
    startedAt,
    ready,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
