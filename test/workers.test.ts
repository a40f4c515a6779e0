/**
 * `-workers N` end to end: the real CLI as a primary with worker processes sharing the ports.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { CLI, startServer, type ServerProcess } from './support/server-process.js';

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    }).on('error', reject);
  });
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Worker pids from the primary's "worker N started" log lines, latest per worker. */
function workerPids(srv: ServerProcess): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of srv.stdout().split('\n')) {
    if (!line.includes('"role":"primary"') || !line.includes('started"')) continue;
    const m = JSON.parse(line) as { worker: number; pid: number };
    out.set(m.worker, m.pid);
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const addresses = (m: { answers: Array<{ type: number }> }): string[] => m.answers.map((r) => (r as { address?: string }).address ?? '');

describe('-workers', () => {
  let srv: ServerProcess;
  let port: number;
  let readyPort: number;
  let healthPort: number;
  let metricsPort: number;
  const corefile = (address: string): string => `.:${port} {
    hosts {
        ${address} a.example.org
    }
    ready 127.0.0.1:${readyPort}
    health 127.0.0.1:${healthPort}
    prometheus 127.0.0.1:${metricsPort}
}
`;

  before(async () => {
    port = await freePort();
    readyPort = await freePort();
    healthPort = await freePort();
    metricsPort = await freePort();
    srv = await startServer(corefile('192.0.2.1'), { args: ['-workers', '2'] });
    await until('2 workers', async () => workerPids(srv).size === 2);
  });
  after(async () => {
    const pids = [...workerPids(srv).values()];
    assert.equal(await srv.stop(), 0, 'the primary exits 0 after SIGTERM');
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  });

  it('prints the zone line and the banner once', () => {
    assert.equal(srv.stdout().match(new RegExp(`^\\.:${port}$`, 'gm'))?.length, 1);
    assert.equal(srv.stdout().match(/^clusterdns-\d+\.\d+\.\d+$/gm)?.length, 1);
  });

  it('answers over UDP and TCP from the shared ports; /ready and /health answer for all workers', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await query(port, 'a.example.org.', RRType.A, { tcp: i % 2 === 1 });
      assert.equal(r.rcode, Rcode.NOERROR);
      assert.deepEqual(addresses(r), ['192.0.2.1']);
    }
    assert.deepEqual(await get(readyPort, '/ready'), { status: 200, body: 'OK' });
    assert.equal((await get(healthPort, '/health')).status, 200);
    assert.equal((await get(readyPort, '/nothing')).status, 404);
  });

  it('sums the workers\' metrics on /metrics, flags stay 1', async () => {
    const before = await get(metricsPort, '/metrics');
    const total = (text: string): number =>
      [...text.matchAll(/^coredns_dns_requests_total\{[^}]*type="A"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    const n0 = total(before.body);
    for (let i = 0; i < 40; i++) await query(port, 'a.example.org.', RRType.A);
    const after = await get(metricsPort, '/metrics');
    assert.equal(after.status, 200);
    assert.equal(total(after.body) - n0, 40);
    assert.match(after.body, /^coredns_plugin_enabled\{[^}]*name="hosts"[^}]*\} 1$/m);
  });

  it('restarts a worker that dies; /ready is 503 until it is back, queries are answered meanwhile', async () => {
    const [victim] = [...workerPids(srv).entries()][0]!;
    const pid = workerPids(srv).get(victim)!;
    process.kill(pid, 'SIGKILL');
    await until('the worker to exit', async () => !alive(pid));
    const during = await get(readyPort, '/ready');
    assert.equal(during.status, 503);
    for (let i = 0; i < 5; i++) assert.deepEqual(addresses(await query(port, 'a.example.org.', RRType.A)), ['192.0.2.1']);
    await until('a new worker', async () => workerPids(srv).get(victim) !== pid && (await get(readyPort, '/ready')).status === 200);
    assert.equal(alive(workerPids(srv).get(victim)!), true);
  });

  it('SIGUSR1 to the primary reloads every worker', async () => {
    fs.writeFileSync(srv.corefile, corefile('192.0.2.99'));
    srv.proc.kill('SIGUSR1');
    await until('both workers answer from the new Corefile', async () => {
      for (let i = 0; i < 20; i++) {
        if (addresses(await query(port, 'a.example.org.', RRType.A))[0] !== '192.0.2.99') return false;
      }
      return true;
    });
  });
});

describe('-workers: startup', () => {
  it('a Corefile that does not start is fatal: exit 1 with the error, no restart loop', async () => {
    const srv = await startServer('.:53 {\n    nosuchplugin\n}\n', { args: ['-workers', '2'], noWait: true });
    const code = await Promise.race([srv.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000))]);
    assert.equal(code, 1);
    assert.match(srv.stderr(), /Error: .*nosuchplugin/);
    fs.rmSync(path.dirname(srv.corefile), { recursive: true, force: true });
  });

  it('takes -workers N or auto, and refuses anything else', () => {
    for (const ok of ['3', 'auto']) assert.equal(spawnSync(process.execPath, [CLI, '-workers', ok, '-version']).status, 0, ok);
    for (const bad of ['0', 'many', '-1']) {
      const r = spawnSync(process.execPath, [CLI, '-workers', bad, '-version'], { encoding: 'utf8' });
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /invalid value .* for flag -workers/);
    }
  });
});
