/**
 * Memory bound under a flood (short version; `npm run fuzz` floods 1M names): 100,000 distinct names
 * (NXDOMAIN from kubernetes and file, SERVFAIL from hosts, each block with cache): the caches stay
 * within their bounds and the RSS stays flat once they are full. (Names asked once are not
 * memoized by the kubernetes plugin: src/plugins/kubernetes/handler.test.ts.)
 * The server runs with a V8 heap cap as it would in a pod with a memory limit
 * (NODE_OPTIONS=--max-old-space-size), so that the RSS measures what is kept, not garbage V8 has not
 * collected yet; a leak then shows as RSS growth (or as the process dying of heap exhaustion).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeMessage } from '../src/dns/decode.js';
import { buildQuery, sendUdp } from './support/dns-client.js';
import { flood } from './fuzz/flood.js';
import { metricsText, metricSum, PROBES, rssKiB, startTarget, type Target } from './fuzz/target.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a flood of distinct NXDOMAIN names', () => {
  let t: Target;
  before(async () => {
    t = await startTarget({ env: { NODE_OPTIONS: '--max-old-space-size=96' } });
  });
  after(async () => {
    await t.srv.stop();
  });

  it('keeps the RSS flat over 100,000 distinct names once the caches are full', async () => {
    const samples: Array<[number, number]> = [[0, rssKiB(t.pid)]];
    const r = await flood({
      port: t.port,
      queries: 100_000,
      zones: ['demo.svc.cluster.local.', 'svc.cluster.local.', 'example.org.', 'hosts.test.'],
      seed: 1,
      checkpoint: { every: 10_000, fn: async (n) => { await sleep(300); samples.push([n, rssKiB(t.pid)]); } },
    });
    const m = await metricsText(t.metricsPort);
    const rss = (n: number): number => samples.find(([k]) => k === n)![1];
    const grownAfterFull = rss(100_000) - rss(40_000);
    console.log(`flood: ${r.sent} distinct names in ${r.durationMs} ms, ${JSON.stringify(r.byRcode)}; RSS KiB ${samples.map(([n, k]) => `${n / 1000}k:${k}`).join(' ')}; ` +
      `cache entries ${metricSum(m, 'coredns_cache_entries')}, heap used ${Math.round(metricSum(m, 'nodejs_heap_size_used_bytes') / 1024)} KiB`);
    assert.equal(t.srv.proc.exitCode, null, 'the server died');
    assert.equal(r.replies, r.sent, 'every query answered');
    // NXDOMAIN from kubernetes and file; hosts has no SOA to deny with and answers SERVFAIL (as CoreDNS).
    assert.equal(r.byRcode.NXDOMAIN, (r.sent * 3) / 4);
    assert.equal(r.byRcode.SERVFAIL, r.sent / 4);
    // Three caches (cluster.local block, example.org, hosts.test) of at most 9,984 denial entries each.
    assert.ok(metricSum(m, 'coredns_cache_entries', 'type="denial"') <= 3 * 9984);
    // The caches are full by 40k (each has seen 10k+ names), the heap near its cap: from there on
    // nothing may accumulate. (The kubernetes memo stores an answer on its name's second miss, so of
    // these distinct names only the doorkeeper's ~6% false "seen" reach it; its bound and eviction
    // under names asked twice are tested in src/kubernetes/record-store.test.ts.)
    assert.ok(grownAfterFull < 16 * 1024, `RSS grew by ${grownAfterFull} KiB between 40k and 100k names`);
    // The server still answers correctly.
    for (const p of PROBES) assert.equal(p.check(decodeMessage(await sendUdp(t.port, buildQuery(p.name, p.type)))), undefined);
  });
});
