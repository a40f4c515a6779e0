/**
 * API faults in a loop while clients query without pause and the cluster keeps changing (short
 * version of `npm run chaos`, which adds a 60 s outage and more rounds): dropped watches, 410 on
 * resume, 500s on the re-list, a 5 s outage, and an API server that accepts requests and never
 * answers (its request and idle timeouts shortened through CLUSTERDNS_KUBE_*). See
 * test/chaos/api.ts for what counts as a wrong answer. test/kubernetes.test.ts covers each fault
 * once, on its own; this is the same faults back to back under load.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runApiChaos } from './chaos/api.js';

describe('API server chaos', () => {
  it('answers every query from the last known state through every fault, with no wrong answer, and converges after each', async () => {
    const r = await runApiChaos({
      services: 20,
      rounds: ['drop', '410', '500', 'outage', 'hang', 'drop'],
      outageMs: 5000,
      hangMs: 3000,
      changesPerFault: 6,
      convergeMs: 12_000,
      udpWorkers: 8,
      tcpWorkers: 2,
      env: { CLUSTERDNS_KUBE_REQUEST_TIMEOUT_MS: '1000', CLUSTERDNS_KUBE_IDLE_TIMEOUT_MS: '2000' },
    });
    const l = r.load;
    console.log(`api chaos: udp ${l.udp.answered}/${l.udp.sent} answered, tcp ${l.tcp.answered}/${l.tcp.sent}; lost ${l.udp.lost.length + l.tcp.lost.length}, wrong ${l.udp.wrong.length + l.tcp.wrong.length}; ` +
      `${r.changes} changes; convergence ${r.convergence.map((c) => `${c.fault} ${c.ms} ms`).join(', ')}; ` +
      `${r.failuresCounted} failures counted, ${r.failureLogLines} failure log lines (${r.outageLogLines} during the outage), ${r.logLines} log lines; rss ${r.rssKiB.start} -> ${r.rssKiB.end} KiB`);
    assert.deepEqual([...l.udp.lost, ...l.tcp.lost], [], 'lost queries');
    assert.deepEqual([...l.udp.wrong, ...l.tcp.wrong].slice(0, 10), [], 'wrong answers');
    assert.deepEqual(r.problems, []);
    assert.ok(l.udp.answered + l.tcp.answered > 1000, 'under load');
    // Each failed attempt is counted; the log gets at most one line per kind per 30 s, plus recoveries.
    assert.ok(r.failuresCounted >= 10, `${r.failuresCounted} failures counted`);
    assert.ok(r.outageLogLines <= 3, `${r.outageLogLines} failure lines during the 5 s outage (3 kinds)`);
    assert.ok(r.failureLogLines <= 3 * 4, `${r.failureLogLines} failure lines in all`);
  });
});
