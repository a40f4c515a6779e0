/**
 * Least privilege (docs/SECURITY.md): the server needs no root and no capability beyond binding
 * port 53, writes nothing, and says so plainly when it may not bind.
 * - as `nobody` on a high port, with a read-only configuration directory: it serves every plugin
 *   (kubernetes snapshot, file, hosts, whoami, cache), has no capability at all, exits 0 on SIGTERM;
 * - as `nobody` on port 53 where ip_unprivileged_port_start is above 53: it exits 1 naming the port;
 * - as `nobody` on port 53 with `setcap cap_net_bind_service=+ep` on (a copy of) the node binary,
 *   the first of the two ways docs/SECURITY.md describes: it serves.
 * Skipped where runuser or the nobody user is missing (or not root, which runuser needs).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { RRType } from '../src/dns/constants.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { CLI } from './support/server-process.js';
import { bigHosts, PROBES, targetCorefile } from './fuzz/target.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const runuser = which('runuser');
const nobody = (() => {
  try {
    return execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();
const canRun = runuser !== undefined && nobody !== undefined && process.getuid?.() === 0;
const skip = canRun ? false : 'needs root, runuser and a nobody user';

interface Run {
  proc: ChildProcess;
  /** SIGTERM to node itself (runuser would answer a SIGTERM by killing its session). */
  stop: () => void;
  out: () => string;
  exited: Promise<number | null>;
  waitFor: (re: RegExp, ms: number) => Promise<void>;
}

function runAsNobody(node: string, dir: string, args: string[] = []): Run {
  const proc = spawn(runuser!, ['-u', 'nobody', '--', node, CLI, '-conf', path.join(dir, 'Corefile'), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CLUSTERDNS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc, exited, out: () => out,
    stop: () => {
      if (proc.exitCode === null) process.kill(childPid(proc.pid!), 'SIGTERM');
    },
    waitFor: async (re, ms) => {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (proc.exitCode !== null || Date.now() > end) throw new Error(`waiting for ${re}: exit ${proc.exitCode}\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** A configuration directory nobody can read but not write (0555, files 0444). */
function configDir(corefile: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-nobody-'));
  fs.writeFileSync(path.join(dir, 'Corefile'), corefile);
  fs.copyFileSync(path.join(root, 'zones', 'demo-cluster.yaml'), path.join(dir, 'demo-cluster.yaml'));
  fs.copyFileSync(path.join(root, 'zones', 'example.org.db'), path.join(dir, 'example.org.db'));
  fs.writeFileSync(path.join(dir, 'hosts.txt'), `192.0.2.1 www.hosts.test\n2001:db8::1 www.hosts.test\n${bigHosts}\n`);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o444);
  fs.chmodSync(dir, 0o555);
  return dir;
}

const status = (pid: number): string => fs.readFileSync(`/proc/${pid}/status`, 'utf8');
const field = (s: string, name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(s)?.[1]?.trim() ?? '';

/** The pid of the node process runuser started (runuser forks it as its child). */
function childPid(parent: number): number {
  try {
    const kids = fs.readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length > 0 ? Number(kids[0]) : parent;
  } catch {
    return parent;
  }
}

describe('least privilege', { skip }, () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('serves as nobody on a high port with no capability and a read-only configuration', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const dir = configDir(targetCorefile(port, metricsPort));
    dirs.push(dir);
    const r = runAsNobody(process.execPath, dir);
    try {
      await r.waitFor(/clusterdns-\d+\.\d+\.\d+/, 15_000);
      await new Promise((res) => setTimeout(res, 300));
      for (const p of PROBES) {
        for (const tcp of [false, true]) assert.equal(p.check(await query(port, p.name, p.type, { tcp })), undefined, `${p.name} as nobody`);
      }
      const s = status(childPid(r.proc.pid!));
      assert.match(field(s, 'Name'), /node/);
      assert.equal(field(s, 'Uid').split(/\s+/)[1], nobody, 'effective uid is nobody');
      assert.equal(field(s, 'CapEff'), '0000000000000000', 'no effective capability');
      assert.equal(field(s, 'CapPrm'), '0000000000000000', 'no permitted capability');
    } finally {
      r.stop();
    }
    assert.equal(await r.exited, 0, r.out());
    assert.doesNotMatch(r.out(), /EACCES|EPERM|permission denied/i);
  });

  const lowPortsPrivileged = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) > 53;

  it('exits 1 naming the port when nobody may not bind 53', { skip: !lowPortsPrivileged && 'ip_unprivileged_port_start <= 53 here' }, async () => {
    const dir = configDir('.:53 {\n    whoami\n}\n');
    dirs.push(dir);
    const r = runAsNobody(process.execPath, dir);
    assert.equal(await r.exited, 1);
    assert.match(r.out(), /listen udp\/tcp :53: EACCES/);
  });

  it('binds 53 as nobody with cap_net_bind_service on the node binary (setcap)', { skip: (!lowPortsPrivileged || !which('setcap')) && 'needs setcap and ip_unprivileged_port_start > 53' }, async (t) => {
    // A copy of node, so the system's binary keeps no capability.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-setcap-'));
    dirs.push(bin);
    fs.chmodSync(bin, 0o755);
    const node = path.join(bin, 'node');
    fs.copyFileSync(process.execPath, node);
    fs.chmodSync(node, 0o755);
    try {
      execFileSync(which('setcap')!, ['cap_net_bind_service=+ep', node]);
    } catch (err) {
      t.skip(`setcap failed here: ${(err as Error).message}`);
      return;
    }
    const dir = configDir('.:53 {\n    whoami\n}\n');
    dirs.push(dir);
    const r = runAsNobody(node, dir);
    try {
      await r.waitFor(/clusterdns-\d+\.\d+\.\d+|EADDRINUSE/, 15_000);
      if (/EADDRINUSE/.test(r.out())) {
        t.skip('port 53 is in use on this host');
        return;
      }
      const m = await query(53, 'me.test.', RRType.A);
      assert.equal(m.rcode, 0);
      const s = status(childPid(r.proc.pid!));
      assert.equal(field(s, 'Uid').split(/\s+/)[1], nobody);
      assert.equal(field(s, 'CapEff'), '0000000000000400', 'only CAP_NET_BIND_SERVICE (bit 10)');
    } finally {
      r.stop();
    }
    assert.equal(await r.exited, 0, r.out());
  });
});
