/**
 * reload end to end: the real CLI polls its Corefile; clients keep querying through every reload.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Rcode, RRClass, RRType } from '../src/dns/constants.js';
import { replyTo, type Message } from '../src/dns/message.js';
import type { PluginSetup } from '../src/plugin/types.js';
import { Supervisor } from '../src/server/supervisor.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addrs = (m: Message): string[] => m.answers.map((r) => ('address' in r ? r.address : '?'));

/** Clients querying in a loop (UDP and TCP) until stopped; every query must be answered. */
function queryLoop(port: number, workers = 6): { stop: () => Promise<{ sent: number; lost: string[]; answers: Map<string, number> }>; seen: Set<string> } {
  let running = true;
  let sent = 0;
  const lost: string[] = [];
  const answers = new Map<string, number>();
  const seen = new Set<string>();
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      sent++;
      const tcp = w % 3 === 0;
      try {
        const r = await query(port, 'www.example.org.', RRType.A, { tcp, timeoutMs: 2000 });
        const key = r.rcode === Rcode.NOERROR ? addrs(r).join(',') : `rcode ${r.rcode}`;
        answers.set(key, (answers.get(key) ?? 0) + 1);
        seen.add(key);
      } catch (err) {
        lost.push(`${tcp ? 'tcp' : 'udp'}: ${(err as Error).message}`);
      }
    }
  });
  return {
    seen,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { sent, lost, answers };
    },
  };
}

describe('reload', () => {
  let srv: ServerProcess;
  let port: number;
  let metricsPort: number;

  const corefile = (hostsFile: string, extra = ''): string => `example.org {
    reload 2s 0s
    hosts ${hostsFile}
    prometheus 127.0.0.1:${metricsPort}
${extra}}
`;
  const metric = async (name: string): Promise<string[]> => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(name));
  };
  const waitFor = async (what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${srv.stdout()}\n${srv.stderr()}`);
      await sleep(50);
    }
  };

  before(async () => {
    port = await freePort();
    metricsPort = await freePort();
    srv = await startServer(corefile('hosts1.txt'), {
      args: ['-dns.port', String(port)],
      files: { 'hosts1.txt': '192.0.2.1 www.example.org\n', 'hosts2.txt': '192.0.2.2 www.example.org\n', 'hosts3.txt': '192.0.2.3 www.example.org\n' },
    });
  });
  after(async () => {
    await srv.stop();
  });

  it('picks up a changed Corefile while clients keep querying, without losing a query', async () => {
    const loop = queryLoop(port);
    await sleep(300);
    fs.writeFileSync(srv.corefile, corefile('hosts2.txt'));
    await waitFor('the new answer', () => loop.seen.has('192.0.2.2'));
    await sleep(500);
    const { sent, lost, answers } = await loop.stop();
    assert.deepEqual(lost, [], `${lost.length} of ${sent} queries lost`);
    assert.deepEqual([...answers.keys()].sort(), ['192.0.2.1', '192.0.2.2'], `answers: ${JSON.stringify([...answers])}`);
    assert.ok(sent > 100, `${sent} queries sent`);
    assert.deepEqual(addrs(await query(port, 'www.example.org.', RRType.A)), ['192.0.2.2']);
    const info = await metric('coredns_reload_version_info{');
    assert.equal(info.length, 1, info.join('\n'));
    assert.match(info[0]!, /^coredns_reload_version_info\{hash="sha512",value="[0-9a-f]{128}"\} 1$/);
  });

  it('keeps serving the old config when the new Corefile fails, counts it, and reloads a fixed one', async () => {
    const loop = queryLoop(port, 3);
    // Parses, but cannot be set up: an unknown plugin.
    fs.writeFileSync(srv.corefile, corefile('hosts3.txt', '    nosuchplugin\n'));
    await waitFor('the failure to be counted', async () => (await metric('coredns_reload_failed_total ')).includes('coredns_reload_failed_total 1'));
    await sleep(2500); // another check: the same broken file is not tried again
    assert.deepEqual(await metric('coredns_reload_failed_total '), ['coredns_reload_failed_total 1']);
    assert.deepEqual(addrs(await query(port, 'www.example.org.', RRType.A)), ['192.0.2.2'], 'the old config serves');

    fs.writeFileSync(srv.corefile, corefile('hosts3.txt'));
    await waitFor('the fixed config', () => loop.seen.has('192.0.2.3'));
    const { sent, lost, answers } = await loop.stop();
    assert.deepEqual(lost, [], `${lost.length} of ${sent} queries lost`);
    assert.deepEqual([...answers.keys()].sort(), ['192.0.2.2', '192.0.2.3']);
    assert.deepEqual(await metric('coredns_reload_failed_total '), ['coredns_reload_failed_total 1']);
  });

  it('keeps serving when the Corefile does not even parse (a warning, not a reload attempt)', async () => {
    fs.writeFileSync(srv.corefile, corefile('hosts1.txt', '    hosts {\n'));
    await sleep(2500);
    assert.deepEqual(addrs(await query(port, 'www.example.org.', RRType.A)), ['192.0.2.3']);
    assert.deepEqual(await metric('coredns_reload_failed_total '), ['coredns_reload_failed_total 1']);
  });

  it('logged each step (the process logger is buffered: read after exit)', async () => {
    assert.equal(await srv.stop(), 0);
    const out = srv.stdout();
    assert.match(out, /plugin\/reload: Running configuration SHA512 = [0-9a-f]{128}/);
    assert.equal(out.match(/running configuration reloaded/g)?.length, 2, out);
    assert.match(out, /plugin\/reload: Corefile changed but reload failed: .*unknown directive 'nosuchplugin'/);
    assert.equal(out.match(/Corefile changed but reload failed/g)?.length, 1, 'the broken file was tried once');
    assert.match(out, /plugin\/reload: Corefile parse failed/);
  });
});

/**
 * A backend like the kubernetes plugin: SERVFAIL until its first sync, `ready()` false meanwhile.
 * `whoami ADDRESS SYNC_MS` (it borrows a name the plugin order knows).
 */
const slowBackend: PluginSetup = {
  name: 'whoami',
  setup(directives) {
    const [address = '', syncMs = '0'] = directives[0]!.args;
    let readyAt = Infinity;
    const isReady = (): boolean => performance.now() >= readyAt;
    return {
      handler: () => ({
        name: 'whoami',
        async serveDNS(req, w) {
          if (!isReady()) return Rcode.SERVFAIL;
          const m = replyTo(req.msg);
          m.answers.push({ name: req.qname, class: RRClass.IN, ttl: 0, type: RRType.A, address });
          w.writeMsg(m);
          return Rcode.NOERROR;
        },
      }),
      ready: isReady,
      start: async () => {
        readyAt = syncMs === 'never' ? Infinity : performance.now() + Number(syncMs);
      },
    };
  },
};

describe('reload hands over only to a ready config', () => {
  let sup: Supervisor;
  let port: number;
  let file: string;
  before(async () => {
    port = await freePort();
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reload-ready-')), 'Corefile');
    fs.writeFileSync(file, `.:${port} {\n    whoami 192.0.2.1 0\n}\n`);
    sup = new Supervisor({ corefilePath: file, defaultPort: port, plugins: new Map([['whoami', slowBackend]]), logger: pino({ level: 'silent' }), quiet: true, hosts: ['127.0.0.1'] });
    await sup.start();
  });
  after(async () => {
    await sup.shutdown();
  });

  it('keeps the old config answering while the new one syncs: no SERVFAIL across the reload', async () => {
    const loop = queryLoop(port, 4);
    await sleep(200);
    fs.writeFileSync(file, `.:${port} {\n    whoami 192.0.2.2 800\n}\n`);
    const t0 = Date.now();
    assert.equal(await sup.reload(), true);
    const took = Date.now() - t0;
    await sleep(200);
    const { sent, lost, answers } = await loop.stop();
    assert.deepEqual(lost, []);
    assert.deepEqual([...answers.keys()].sort(), ['192.0.2.1', '192.0.2.2'], `${sent} queries: ${JSON.stringify([...answers])}`);
    assert.ok(took >= 700, `the reload waited for the sync (${took} ms)`);
  });

  it('switches anyway after 5 s when the new config never gets ready (as CoreDNS stops waiting for its first sync)', async () => {
    fs.writeFileSync(file, `.:${port} {\n    whoami 192.0.2.3 never\n}\n`);
    const t0 = Date.now();
    const reloading = sup.reload();
    await sleep(1000);
    assert.deepEqual(addrs(await query(port, 'x.test.', RRType.A)), ['192.0.2.2'], 'the old config serves while waiting');
    assert.equal(await reloading, true);
    const took = Date.now() - t0;
    assert.ok(took >= 4900 && took < 8000, `${took} ms`);
    assert.equal((await query(port, 'x.test.', RRType.A)).rcode, Rcode.SERVFAIL);
  });
});
