/**
 * Process lifecycle under load, counted query by query (test/chaos/load.ts defines "lost"):
 * - SIGTERM with lameduck: every query that reached the server before its listeners closed is
 *   answered, the slow ones (forwarded to an upstream that takes 300 ms) included; the clients see
 *   the close as a refusal (ICMP port unreachable, TCP connect refused) and stop; exit 0.
 * - reloads (SIGUSR1, Corefile changes) under load lose nothing and only ever give a right answer.
 * - a plugin that throws for one query: SERVFAIL for that query, coredns_panics_total counts it,
 *   the server goes on. The trigger is real input, not a test hook: a Service (in the snapshot)
 *   whose name is longer than a DNS label; its PTR answer cannot be encoded, so the kubernetes
 *   plugin throws an EncodeError for that query only.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import type { Message } from '../src/dns/message.js';
import { rr, UpstreamServer } from './support/upstream-server.js';
import { startLoad, untilAllStopped, type LoadOptions } from './chaos/load.js';
import { query } from './support/dns-client.js';
import { bigHosts, metricsText, metricSum, PROBES, startTarget, targetCorefile, waitUntil, type Probe } from './fuzz/target.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addresses = (m: Message): string => m.answers.map((r) => ('address' in r ? r.address : '')).sort().join(',');

const SLOW: Probe = {
  name: 'slow.fwd.test.', type: RRType.A,
  check: (m) => (m.rcode === Rcode.NOERROR && addresses(m) === '203.0.113.7' ? undefined : `slow.fwd.test: rcode ${m.rcode} ${addresses(m)}`),
};

describe('SIGTERM under load', () => {
  let up: UpstreamServer;
  before(async () => {
    up = await UpstreamServer.start({ records: [rr.a('slow.fwd.test.', '203.0.113.7')] });
    up.fault = { delayMs: 300 };
  });
  after(async () => {
    await up.stop();
  });

  it('answers every query that reached it before its listeners closed, then exits 0', async () => {
    const t = await startTarget({
      extra: '    health 127.0.0.1:0 {\n        lameduck 1s\n    }\n',
      blocks: (port) => `fwd.test:${port} {\n    forward . 127.0.0.1:${up.port}\n}\n`,
    });
    // Fast answers from every plugin, and queries that are in flight for 300 ms (forward).
    const fastO: LoadOptions = { port: t.port, probes: PROBES, udpWorkers: 24, tcpWorkers: 8 };
    const slowO: LoadOptions = { port: t.port, probes: [SLOW], udpWorkers: 8, tcpWorkers: 4 };
    const fast = startLoad(fastO);
    const slow = startLoad(slowO);
    await sleep(1000);
    const sigterm = Date.now();
    t.srv.proc.kill('SIGTERM');
    const code = await t.srv.exited;
    const exitedAfter = Date.now() - sigterm;
    await untilAllStopped(fast, fastO, 5000);
    await untilAllStopped(slow, slowO, 5000);
    const [f, sl] = [await fast.stop(), await slow.stop()];
    const r = {
      udp: { ...f.udp, sent: f.udp.sent + sl.udp.sent, answered: f.udp.answered + sl.udp.answered, refused: f.udp.refused + sl.udp.refused, lost: [...f.udp.lost, ...sl.udp.lost], wrong: [...f.udp.wrong, ...sl.udp.wrong] },
      tcp: { ...f.tcp, sent: f.tcp.sent + sl.tcp.sent, answered: f.tcp.answered + sl.tcp.answered, lost: [...f.tcp.lost, ...sl.tcp.lost], wrong: [...f.tcp.wrong, ...sl.tcp.wrong] },
      answeredAfterClose: f.answeredAfterClose + sl.answeredAfterClose,
    };
    const closeAfter = Math.min(f.udp.firstRefusalAt ?? Infinity, sl.udp.firstRefusalAt ?? Infinity) - sigterm;
    console.log(`SIGTERM: udp ${r.udp.sent} sent, ${r.udp.answered} answered, ${r.udp.refused} refused, ${r.udp.lost.length} lost; ` +
      `tcp ${r.tcp.sent} sent, ${r.tcp.answered} answered, ${r.tcp.lost.length} lost; ${r.answeredAfterClose} answered after the listener closed (${sl.answeredAfterClose} slow); ` +
      `close seen ${closeAfter} ms after SIGTERM, exit ${code} after ${exitedAfter} ms`);
    assert.deepEqual([...r.udp.lost, ...r.tcp.lost], [], 'queries lost');
    assert.deepEqual([...r.udp.wrong, ...r.tcp.wrong], [], 'wrong answers');
    assert.equal(code, 0);
    assert.equal(r.udp.sent, r.udp.answered + r.udp.refused, 'every UDP query answered or refused');
    assert.equal(r.tcp.sent, r.tcp.answered, 'every TCP query answered');
    assert.ok(closeAfter >= 950, `the listeners closed ${closeAfter} ms after SIGTERM, before the 1 s lameduck`);
    // Not vacuous: slow queries were in flight when the listeners closed, and were answered after.
    assert.ok(sl.answeredAfterClose > 0, 'no slow answer came after the close: nothing was in flight');
    assert.ok(r.udp.answered > 500 && r.tcp.answered > 100, 'under load');
  });
});

describe('reloads under load', () => {
  it('loses no query and gives only right answers through six reloads', async () => {
    const hosts = (n: number): string => `192.0.2.${n} www.hosts.test\n2001:db8::${n} www.hosts.test\n${bigHosts}\n`;
    const t = await startTarget({ files: { 'hosts2.txt': hosts(2) } });
    const www = PROBES.find((p) => p.name === 'www.hosts.test.')!;
    // The hosts probe's answer moves between the two files' addresses; any other answer is wrong.
    const alternatives = { [www.name]: [(m: Message) => (addresses(m) === '2001:db8::2' ? undefined : `www.hosts.test AAAA: ${addresses(m)}`)] };
    const o: LoadOptions = { port: t.port, probes: PROBES, udpWorkers: 24, tcpWorkers: 8, alternatives };
    const load = startLoad(o);
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 6; i++) {
        await sleep(400);
        fs.writeFileSync(t.srv.corefile, targetCorefile(t.port, t.metricsPort, { hostsFile: i % 2 === 0 ? 'hosts2.txt' : 'hosts.txt' }));
        t.srv.proc.kill('SIGUSR1');
        const want = i % 2 === 0 ? '2001:db8::2' : '2001:db8::1';
        await waitUntil(async () => addresses(await query(t.port, www.name, www.type)) === want, 10_000, `reload ${i + 1}`);
        seen.add(want);
      }
      await sleep(300);
    } finally {
      const r = await load.stop();
      const m = await metricsText(t.metricsPort);
      await t.srv.stop();
      console.log(`reloads: udp ${r.udp.sent} sent, ${r.udp.answered} answered, ${r.udp.lost.length} lost; tcp ${r.tcp.sent} sent, ${r.tcp.answered} answered, ${r.tcp.lost.length} lost; ` +
        `wrong ${r.udp.wrong.length + r.tcp.wrong.length}; reload failures ${metricSum(m, 'coredns_reload_failed_total')}`);
      assert.deepEqual([...r.udp.lost, ...r.tcp.lost], [], 'queries lost');
      assert.deepEqual([...r.udp.wrong, ...r.tcp.wrong], [], 'wrong answers');
      assert.equal(r.udp.refused + r.tcp.refused, 0);
      assert.equal(metricSum(m, 'coredns_reload_failed_total'), 0);
      assert.ok(r.udp.answered > 500 && r.tcp.answered > 100, 'under load');
    }
    assert.deepEqual([...seen].sort(), ['2001:db8::1', '2001:db8::2']);
  });
});

describe('a plugin error in one query', () => {
  it('answers SERVFAIL to that query, counts it in coredns_panics_total and goes on serving', async () => {
    // A Service whose name is longer than a DNS label (a snapshot is the operator's file; the API
    // server would refuse it). Its ClusterIP's PTR answer cannot be encoded: the kubernetes plugin
    // throws an EncodeError while building that one answer.
    const long = 'x'.repeat(70);
    const snapshot = fs.readFileSync(new URL('../zones/demo-cluster.yaml', import.meta.url), 'utf8') +
      `- apiVersion: v1\n  kind: Service\n  metadata: { name: ${long}, namespace: demo }\n  spec:\n    type: ClusterIP\n    clusterIP: 10.96.99.99\n    clusterIPs: [10.96.99.99]\n    ports: [{ name: http, port: 80, protocol: TCP }]\n`;
    const t = await startTarget({ files: { 'demo-cluster.yaml': snapshot } });
    try {
      const o: LoadOptions = { port: t.port, probes: PROBES, udpWorkers: 8, tcpWorkers: 4 };
      const load = startLoad(o);
      for (let i = 0; i < 5; i++) {
        for (const tcp of [false, true]) {
          const m = await query(t.port, '99.99.96.10.in-addr.arpa.', RRType.PTR, { tcp });
          assert.equal(m.rcode, Rcode.SERVFAIL);
          assert.deepEqual(m.answers, []);
        }
      }
      const r = await load.stop();
      const m = await metricsText(t.metricsPort);
      assert.equal(metricSum(m, 'coredns_panics_total'), 10, 'one panic per failing query, none for the others');
      assert.deepEqual([...r.udp.lost, ...r.tcp.lost, ...r.udp.wrong, ...r.tcp.wrong], []);
      assert.ok(r.udp.answered + r.tcp.answered > 100);
      // Still serving, the failing name included (every time), and logged with the query.
      for (const p of PROBES) assert.equal(p.check(await query(t.port, p.name, p.type)), undefined);
      assert.equal(t.srv.proc.exitCode, null);
      await waitUntil(() => /plugin error while serving query/.test(t.srv.stderr() + t.srv.stdout()), 3000, 'the error log line');
    } finally {
      await t.srv.stop();
    }
  });
});
