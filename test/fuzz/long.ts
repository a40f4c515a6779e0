/**
 * `npm run fuzz`: the long fuzz run. Same checks as test/hardening-fuzz.test.ts, at 1,000,000 UDP
 * datagrams and 100,000 TCP frames by default.
 *   FUZZ_UDP=2000000 FUZZ_TCP_CONNECTIONS=800 FUZZ_SEED=7 npm run fuzz
 * Exits 1 on any violation, failed probe, crash or plugin error.
 */
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
const ok = r.violationCount === 0 && r.probeFailures.length === 0 && r.udpReplies === r.udpExpectingReply && alive && panics === 0 && !badLog;
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
