/**
 * Hostile packets against the real server (short version; `npm run fuzz` sends 1M+).
 * 50,000 UDP datagrams and 10,000 TCP frames: random bytes, mutated and truncated queries, runts,
 * compression-pointer loops, labels over 63, names over 255, QDCOUNT 0 and > 1, bogus OPTs,
 * unknown types, classes and opcodes, responses (QR set). See test/fuzz/run.ts for what is checked
 * per packet; here we also check the process afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runFuzz, type FuzzResult } from './fuzz/run.js';
import { metricsText, metricSum, rssKiB, startTarget, type Target } from './fuzz/target.js';

describe('fuzzing the real server', () => {
  let t: Target;
  let result: FuzzResult;
  let rssBefore = 0;
  before(async () => {
    t = await startTarget();
    rssBefore = rssKiB(t.pid);
  });
  after(async () => {
    await t.srv.stop();
  });

  it('survives 60,000 hostile packets over UDP and TCP without a crash, a stall or a wrong reply', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    result = await runFuzz({ port: t.port, udpPackets: 50_000, tcpConnections: 40, framesPerConnection: 250, seed, probeEvery: 500, probeTimeoutMs: 3000 });
    const r = result;
    const rate = Math.round((r.udpSent + r.tcpFrames) / (r.durationMs / 1000));
    console.log(`fuzz (seed ${seed}): ${r.udpSent} udp + ${r.tcpFrames} tcp frames on ${r.tcpConnections} connections in ${r.durationMs} ms (${rate}/s); ` +
      `${r.udpReplies} udp replies for ${r.udpExpectingReply} answerable; ${r.probes} probes, max ${Math.round(r.probeMaxMs)} ms, p99 ${Math.round(r.probeP99Ms)} ms; ` +
      `rss ${rssBefore} -> ${rssKiB(t.pid)} KiB; kinds ${JSON.stringify(r.byKind)}`);
    assert.deepEqual(r.violations, [], `${r.violationCount} violations (seed ${seed})`);
    // Liveness: every interleaved valid query was answered correctly within 3 s (probeTimeoutMs; ~100 ms
    // is usual, the margin is for a loaded CI machine).
    assert.deepEqual(r.probeFailures, [], `probes failed (seed ${seed})`);
    assert.equal(r.udpSent, 50_000);
    assert.equal(r.tcpFrames, 10_000);
    // Every UDP packet that deserves an answer got exactly one: none lost, none extra (no reply to QR or runts).
    assert.equal(r.udpReplies, r.udpExpectingReply, `seed ${seed}`);
  });

  it('is still running, counted the malformed packets, and counted no plugin error', async () => {
    assert.equal(t.srv.proc.exitCode, null, 'the server exited');
    const m = await metricsText(t.metricsPort);
    assert.equal(metricSum(m, 'coredns_panics_total'), 0, 'a plugin threw on fuzzed input');
    assert.ok(metricSum(m, 'clusterdns_malformed_requests_total', 'action="drop"') > 1000, 'runts and responses were dropped');
    assert.ok(metricSum(m, 'clusterdns_malformed_requests_total', 'action="formerr"') > 10_000, 'malformed queries got FORMERR');
    assert.ok(metricSum(m, 'clusterdns_malformed_requests_total', 'action="notimp"') > 100, 'other opcodes got NOTIMP');
    const log = t.srv.stderr() + t.srv.stdout();
    assert.doesNotMatch(log, /uncaught exception|unhandled rejection|plugin error|udp query failed|tcp query failed/);
    // Hostile input must not flood the log: a handful of start-up lines, nothing per packet.
    assert.ok(log.split('\n').length < 50, `${log.split('\n').length} log lines`);
  });
});
