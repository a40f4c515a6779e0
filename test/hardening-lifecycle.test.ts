/**
 * Process lifecycle under load, counted query by query (test/chaos/load.ts defines "lost"):
 * - SIGTERM with lameduck: every query that reached the server before its listeners closed is
 *   answered, the slow ones (forwarded to an upstream that takes 300 ms) included; the clients see
 *   the close as a refusal (ICMP port unreachable, TCP connect refused) and stop; exit 0. Once with
 *   one process, once with `-workers 2`.
 * - reloads (SIGUSR1, Corefile changes) under load lose nothing and only ever give a right answer.
 * - a plugin that throws for one query: SERVFAIL for that query, coredns_panics_total counts it,
 *   the server goes on. The trigger is real input, not a test hook: a Service (in the snapshot)
 *   whose name is longer than a DNS label; its PTR answer cannot be encoded, so the kubernetes
 *   plugin throws an EncodeError for that query only.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import { query } from './support/dns-client.js';
import { startLoad, type LoadOptions } from './chaos/load.js';
import { reloadsUnderLoad, sigtermUnderLoad } from './chaos/lifecycle.js';
import { metricsText, metricSum, PROBES, startTarget, waitUntil } from './fuzz/target.js';

/** SIGTERM with a 1 s lameduck under load; asserts nothing that reached the server was lost. */
async function sigtermLosesNothing(label: string, args: string[]): Promise<void> {
  const r = await sigtermUnderLoad({ lameduckMs: 1000, loadMs: 1000, udpWorkers: 24, tcpWorkers: 8, args });
  console.log(`SIGTERM${label}: udp ${r.udp.sent} sent, ${r.udp.answered} answered, ${r.udp.refused} refused, ${r.udp.lost.length} lost; ` +
    `tcp ${r.tcp.sent} sent, ${r.tcp.answered} answered, ${r.tcp.lost.length} lost; ${r.answeredAfterClose} answered after the listeners closed (${r.slowAnsweredAfterClose} slow); ` +
    `close seen ${r.closeAfterMs} ms after SIGTERM, exit ${r.exitCode} after ${r.exitAfterMs} ms`);
  assert.deepEqual([...r.udp.lost, ...r.tcp.lost], [], 'queries lost');
  assert.deepEqual([...r.udp.wrong, ...r.tcp.wrong], [], 'wrong answers');
  assert.equal(r.exitCode, 0);
  assert.equal(r.udp.sent, r.udp.answered + r.udp.refused, 'every UDP query answered or refused');
  assert.equal(r.tcp.sent, r.tcp.answered, 'every TCP query answered');
  assert.ok(r.closeAfterMs >= 950, `the listeners closed ${r.closeAfterMs} ms after SIGTERM, before the 1 s lameduck`);
  // Not vacuous: slow queries were in flight when the listeners closed, and were answered after.
  assert.ok(r.slowAnsweredAfterClose > 0, 'no slow answer came after the close: nothing was in flight');
  assert.ok(r.udp.answered > 200 && r.tcp.answered > 50, 'under load');
}

describe('SIGTERM under load', () => {
  it('answers every query that reached it before its listeners closed, then exits 0', () => sigtermLosesNothing('', []));
  // The workers share one UDP socket and one TCP listener (node:cluster), each reading the UDP
  // socket in batches; the primary forwards SIGTERM to both and waits for their lameduck and exit.
  it('with -workers 2: answers every query that reached either worker, then exits 0', () => sigtermLosesNothing(' -workers 2', ['-workers', '2']));
});

describe('reloads under load', () => {
  it('loses no query and gives only right answers through six reloads', async () => {
    const r = await reloadsUnderLoad({ reloads: 6, everyMs: 400, udpWorkers: 24, tcpWorkers: 8 });
    console.log(`reloads: ${r.reloads}; udp ${r.udp.sent} sent, ${r.udp.answered} answered, ${r.udp.lost.length} lost; tcp ${r.tcp.sent} sent, ${r.tcp.answered} answered, ${r.tcp.lost.length} lost; ` +
      `wrong ${r.udp.wrong.length + r.tcp.wrong.length}; reload failures ${r.reloadFailures}`);
    assert.deepEqual([...r.udp.lost, ...r.tcp.lost], [], 'queries lost');
    assert.deepEqual([...r.udp.wrong, ...r.tcp.wrong], [], 'wrong answers');
    assert.equal(r.udp.refused + r.tcp.refused, 0);
    assert.equal(r.reloadFailures, 0);
    assert.deepEqual(r.seen, ['2001:db8::1', '2001:db8::2'], 'both configurations served');
    assert.ok(r.udp.answered > 200 && r.tcp.answered > 50, 'under load');
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
