/**
 * `npm run fuzz`: the long runs of test/hardening-fuzz.test.ts and test/hardening-memory.test.ts.
 * 1. Hostile packets: 1,000,000 UDP datagrams and 100,000 TCP frames by default, same checks.
 * 2. A flood of 1,000,000 distinct names (NXDOMAIN/SERVFAIL through kubernetes, file, hosts and
 *    cache) against a server with a V8 heap cap: the RSS must stay flat once the caches are full.
 *   FUZZ_UDP=2000000 FUZZ_TCP_CONNECTIONS=800 FUZZ_SEED=7 FUZZ_FLOOD=1000000 npm run fuzz
 * Exits 1 on any violation, failed probe, crash, plugin error or memory growth.
 */
import { flood } from './flood.js';
import { runFuzz } from './run.js';
import { metricsText, metricSum, rssKiB, startTarget } from './target.js';

const udpPackets = Number(process.env.FUZZ_UDP ?? 1_000_000);
const tcpConnections = Number(process.env.FUZZ_TCP_CONNECTIONS ?? 400);
const framesPerConnection = 250;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

const t = await startTarget();
const rssBefore = rssKiB(t.pid);
const log = (s: string): void => console.log(`[fuzz ${new Date().toISOString()}] ${s}`);
log(`server pid ${t.pid} port ${t.port}; seed ${seed}; ${udpPackets} udp packets, ${tcpConnections * framesPerConnection} tcp frames; rss ${rssBefore} KiB`);
const r = await runFuzz({ port: t.port, udpPackets, tcpConnections, framesPerConnection, seed, probeEvery: 1000, probeTimeoutMs: 2000, progress: (s) => log(`${s}; rss ${rssKiB(t.pid)} KiB`) });
const m = await metricsText(t.metricsPort);
const alive = t.srv.proc.exitCode === null;
const rssAfter = alive ? rssKiB(t.pid) : 0;
const panics = metricSum(m, 'coredns_panics_total');
const serverLog = t.srv.stderr() + t.srv.stdout();
const badLog = /uncaught exception|unhandled rejection|plugin error|udp query failed|tcp query failed/.test(serverLog);
await t.srv.stop();

const secs = r.durationMs / 1000;
console.log(`
fuzz report (seed ${seed})
  packets          ${r.udpSent + r.tcpFrames} (${r.udpSent} UDP datagrams, ${r.tcpFrames} TCP frames on ${r.tcpConnections} connections)
  duration         ${secs.toFixed(1)} s, ${Math.round((r.udpSent + r.tcpFrames) / secs)} packets/s
  udp replies      ${r.udpReplies} for ${r.udpExpectingReply} answerable packets (${r.udpSent - r.udpExpectingReply} must-ignore: QR set or runt)
  tcp replies      ${r.tcpReplies}
  by kind          ${JSON.stringify(r.byKind)}
  server counted   malformed drop ${metricSum(m, 'clusterdns_malformed_requests_total', 'action="drop"')}, formerr ${metricSum(m, 'clusterdns_malformed_requests_total', 'action="formerr"')}, notimp ${metricSum(m, 'clusterdns_malformed_requests_total', 'action="notimp"')}; requests ${metricSum(m, 'coredns_dns_requests_total')}; panics ${panics}
  probes           ${r.probes}, failed ${r.probeFailures.length}, max ${Math.round(r.probeMaxMs)} ms, p99 ${Math.round(r.probeP99Ms)} ms
  rss              ${rssBefore} KiB -> ${rssAfter} KiB
  violations       ${r.violationCount}
  server           ${alive ? 'running until stopped' : 'EXITED'}${badLog ? ', error lines in its log' : ''}, ${serverLog.split('\n').length} log lines
`);
for (const v of [...r.violations, ...r.probeFailures]) console.log(`  ! ${v}`);
const fuzzOk = r.violationCount === 0 && r.probeFailures.length === 0 && r.udpReplies === r.udpExpectingReply && alive && panics === 0 && !badLog;

// ---- 2. the flood ----
const floodN = Number(process.env.FUZZ_FLOOD ?? 1_000_000);
const ft = await startTarget({ env: { NODE_OPTIONS: '--max-old-space-size=96' } });
const samples: Array<[number, number]> = [[0, rssKiB(ft.pid)]];
log(`flood: ${floodN} distinct names; server pid ${ft.pid}, rss ${samples[0]![1]} KiB`);
const fr = await flood({
  port: ft.port, queries: floodN, seed: seed + 1,
  zones: ['demo.svc.cluster.local.', 'svc.cluster.local.', 'example.org.', 'hosts.test.'],
  checkpoint: {
    every: Math.max(10_000, Math.floor(floodN / 20)),
    fn: async (n) => {
      await new Promise((res) => setTimeout(res, 300));
      samples.push([n, rssKiB(ft.pid)]);
      log(`flood ${n}: rss ${samples[samples.length - 1]![1]} KiB`);
    },
  },
});
const fAlive = ft.srv.proc.exitCode === null;
const fm = fAlive ? await metricsText(ft.metricsPort) : '';
await ft.srv.stop();
// Full after 20% (every cache and the memo have seen 10k+ names by then); nothing may accumulate after.
const full = samples.find(([n]) => n >= floodN / 5) ?? samples[samples.length - 1]!;
const last = samples[samples.length - 1]!;
const floodOk = fAlive && fr.replies === fr.sent && last[1] - full[1] < 16 * 1024;
console.log(`
flood report
  queries          ${fr.sent} distinct names in ${(fr.durationMs / 1000).toFixed(1)} s (${Math.round(fr.sent / (fr.durationMs / 1000))}/s), ${fr.replies} answered ${JSON.stringify(fr.byRcode)}
  rss (KiB)        ${samples.map(([n, k]) => `${n / 1000}k:${k}`).join(' ')}
  flat?            ${last[1] - full[1]} KiB from ${full[0] / 1000}k to ${last[0] / 1000}k names (bound 16384)
  cache entries    ${metricSum(fm, 'coredns_cache_entries')}; heap used ${Math.round(metricSum(fm, 'nodejs_heap_size_used_bytes') / 1024)} KiB
`);
const ok = fuzzOk && floodOk;
console.log(ok ? 'PASS' : `FAIL${fuzzOk ? '' : ' (fuzz)'}${floodOk ? '' : ' (flood)'}`);
process.exit(ok ? 0 : 1);
