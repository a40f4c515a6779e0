/**
 * knotd as the reference server: a config and the zone file in a temp dir, `knotd -c conf` in the
 * foreground, ready when it answers the zone's SOA. Knot is a yardstick here, not a dependency.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { soaSerial } from './probe.js';

export const KNOTD = '/usr/sbin/knotd';

export interface KnotServer {
  proc: ChildProcess;
  pid: number;
  port: number;
  workers: number;
  stop(): Promise<void>;
}

export async function startKnot(opts: { dir: string; port: number; zone: string; zoneText: string; udpWorkers: number }): Promise<KnotServer> {
  const dir = path.join(opts.dir, 'knot');
  fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const zonePath = path.join(dir, 'storage', `${opts.zone}.zone`);
  fs.writeFileSync(zonePath, opts.zoneText);
  const conf = path.join(dir, 'knot.conf');
  fs.writeFileSync(
    conf,
    [
      'server:',
      `    rundir: "${dir}"`,
      `    listen: 127.0.0.1@${opts.port}`,
      `    udp-workers: ${opts.udpWorkers}`,
      '    tcp-workers: 1',
      '    background-workers: 1',
      'database:',
      `    storage: "${path.join(dir, 'db')}"`,
      'log:',
      '  - target: stderr',
      '    any: warning',
      'template:',
      '  - id: default',
      `    storage: "${path.join(dir, 'storage')}"`,
      '    journal-content: none',
      '    zonefile-sync: -1',
      '    semantic-checks: off',
      'zone:',
      `  - domain: ${opts.zone}`,
      `    file: "${zonePath}"`,
      '',
    ].join('\n'),
  );
  const proc = spawn(KNOTD, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`knotd exited (${proc.exitCode}):\n${stderr}`);
    if ((await soaSerial(opts.port, `${opts.zone}.`, 300)) !== undefined) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`knotd did not serve ${opts.zone} within 60 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    pid: proc.pid!,
    port: opts.port,
    workers: opts.udpWorkers,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
