/**
 * Queries forwarded to an upstream that never answers: what is queued upstream is bounded
 * (max_concurrent: REFUSED past it, counted; without it, the per-socket pending bounds of
 * plugins/forward/transport.ts), every client still gets an answer (SERVFAIL after the deadline),
 * and other zones keep answering meanwhile.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { decodeMessage } from '../src/dns/decode.js';
import { buildQuery, sendTcp, sendUdp } from './support/dns-client.js';
import { flood } from './fuzz/flood.js';
import { metricsText, metricSum, PROBES, rssKiB, startTarget, type Target } from './fuzz/target.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('queries forwarded to an upstream that never answers', () => {
  let hole: dgram.Socket;
  let seen = 0;
  const seenAt: number[] = [];
  let t: Target;
  before(async () => {
    hole = dgram.createSocket('udp4');
    hole.on('message', () => {
      seen++;
      seenAt.push(Date.now());
    });
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    hole.setRecvBufferSize(4 * 1024 * 1024); // count every query that reaches it
    const up = hole.address().port;
    t = await startTarget({
      blocks: (port, metricsPort) => `capped.test:${port} {\n    forward . 127.0.0.1:${up} {\n        max_concurrent 100\n    }\n}\nopen.test:${port} {\n    prometheus 127.0.0.1:${metricsPort}\n    forward . 127.0.0.1:${up}\n}\n`,
    });
  });
  after(async () => {
    await t.srv.stop();
    hole.close();
  });

  it('refuses past max_concurrent (counted), answers every query, and keeps other zones answering', async () => {
    const start = Date.now();
    const probe = (async () => {
      let worst = 0;
      while (Date.now() - start < 3000) {
        const p = PROBES[Math.floor(Math.random() * PROBES.length)]!;
        const t0 = performance.now();
        const m = decodeMessage(await (Math.random() < 0.5 ? sendUdp : sendTcp)(t.port, buildQuery(p.name, p.type), { timeoutMs: 2000 }));
        assert.equal(p.check(m), undefined);
        worst = Math.max(worst, performance.now() - t0);
        await sleep(20);
      }
      return worst;
    })();
    // The forward deadline is 5 s: the last SERVFAILs come that long after the last query.
    const r = await flood({ port: t.port, queries: 5000, zones: ['capped.test.'], seed: 2, window: 2000, settleMs: 7000 });
    const worst = await probe;
    const m = await metricsText(t.metricsPort);
    console.log(`capped forward: ${JSON.stringify(r.byRcode)} in ${r.durationMs} ms; upstream saw ${seen}; rejects ${metricSum(m, 'coredns_forward_max_concurrent_rejects_total')}; probes max ${Math.round(worst)} ms`);
    assert.equal(r.replies, r.sent, 'every query got an answer');
    assert.ok((r.byRcode.REFUSED ?? 0) > 0 && (r.byRcode.SERVFAIL ?? 0) > 0);
    assert.equal(metricSum(m, 'coredns_forward_max_concurrent_rejects_total'), r.byRcode.REFUSED);
    // At most 100 in flight, each tried at most twice (max_connect_attempts 2 x 1 upstream).
    assert.ok(seen <= (r.byRcode.SERVFAIL ?? 0) * 2 + 10, `upstream saw ${seen}`);
  });

  it('bounds what is queued upstream without max_concurrent, and still answers everything', async () => {
    const rss0 = rssKiB(t.pid);
    seen = 0;
    seenAt.length = 0;
    const start = Date.now();
    // Paced so the server's receive buffer never overflows: the queries pile up inside, not in the kernel.
    const r = await flood({ port: t.port, queries: 12_000, zones: ['open.test.'], seed: 3, rate: 5000, settleMs: 10_000 });
    const grown = rssKiB(t.pid) - rss0;
    // What reached the server (a datagram the kernel dropped for a full receive buffer never did).
    const received = metricSum(await metricsText(t.metricsPort), 'coredns_dns_requests_total', 'zone="open.test."');
    // Before the first read timeout (2 s) frees a slot, 9,500 queries have come in: at most
    // UDP_MAX_SOCKETS x UDP_MAX_PENDING_PER_SOCKET (8 x 1024) may be waiting upstream, the rest must
    // have failed at once ('busy') and been answered SERVFAIL without waiting.
    const upstreamEarly = seenAt.filter((at) => at - start < 1900).length;
    const answeredEarly = r.replyTimes.filter((at) => at - start < 1900).length;
    console.log(`open forward: ${r.sent} sent, ${received} received, ${JSON.stringify(r.byRcode)} in ${r.durationMs} ms; upstream saw ${seen} (${upstreamEarly} in the first 1.9 s); ${answeredEarly} answered in the first 1.9 s; RSS +${grown} KiB`);
    assert.equal(r.replies, received, 'every query the server received got an answer');
    assert.ok(received >= r.sent * 0.9, `only ${received} of ${r.sent} reached the server`);
    assert.equal(r.byRcode.SERVFAIL, r.replies);
    assert.ok(upstreamEarly <= 8 * 1024 + 10, `${upstreamEarly} queries waiting upstream`);
    // Once the bound was reached, the queries past it were answered without waiting for a timeout.
    assert.ok(upstreamEarly < 8 * 1024 || answeredEarly > 0, `${answeredEarly} answered before the first timeout`);
    assert.ok(grown < 128 * 1024, `RSS grew by ${grown} KiB`);
    for (const p of PROBES) assert.equal(p.check(decodeMessage(await sendUdp(t.port, buildQuery(p.name, p.type)))), undefined);
  });
});
