/**
 * loop end to end: the real CLI forwarding to itself (or to a second server that forwards back)
 * must stop with CoreDNS's message; without a loop it must keep serving.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { startServer } from './support/server-process.js';
import { rr, UpstreamServer } from './support/upstream-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CoreDNS's line; in our JSON log lines the quotes are escaped. */
const loopMessage = (port: number, zone: string): RegExp =>
  new RegExp(
    String.raw`\[FATAL\] plugin/loop: Loop \(127\.0\.0\.1:\d+ -> :${port}\) detected for zone \\?"${zone.replace(/\./g, '\\.')}\\?", ` +
      String.raw`see https://coredns\.io/plugins/loop#troubleshooting\. Query: \\?"HINFO (\d+)\.(\d+)\.${zone === '.' ? '' : zone.replace(/\./g, '\\.')}\\?"`,
  );

async function exitWithin(exited: Promise<number | null>, ms: number): Promise<number | null | 'running'> {
  return Promise.race([exited, sleep(ms).then(() => 'running' as const)]);
}

describe('loop', () => {
  it('stops the server that forwards to itself, with CoreDNS\'s message', async () => {
    const port = await freePort();
    const srv = await startServer(`.:${port} {\n    loop\n    forward . 127.0.0.1:${port}\n}\n`);
    try {
      assert.equal(await exitWithin(srv.exited, 10_000), 1);
      const m = (srv.stdout() + srv.stderr()).match(loopMessage(port, '.'));
      assert.ok(m, `no loop message in:\n${srv.stdout()}\n${srv.stderr()}`);
      assert.match(srv.stdout(), /"code":"CDNS_LOOP_DETECTED"/);
    } finally {
      await srv.stop();
    }
  });

  it('stops a server whose upstream forwards back to it', async () => {
    const p1 = await freePort();
    const p2 = await freePort();
    const s1 = await startServer(`example.org:${p1} {\n    loop\n    forward . 127.0.0.1:${p2}\n}\n`);
    const s2 = await startServer(`example.org:${p2} {\n    loop\n    forward . 127.0.0.1:${p1}\n}\n`, { noWait: true });
    try {
      const first = await Promise.race([s1.exited.then((c) => ({ s: s1, port: p1, c })), s2.exited.then((c) => ({ s: s2, port: p2, c })), sleep(15_000).then(() => undefined)]);
      assert.ok(first, 'neither server stopped');
      assert.equal(first.c, 1);
      assert.match(first.s.stdout() + first.s.stderr(), loopMessage(first.port, 'example.org.'));
    } finally {
      await s1.stop();
      await s2.stop();
    }
  });

  it('does not fire without a loop, with an upstream that answers or one that drops queries', async () => {
    const good = await UpstreamServer.start({ records: [rr.a('www.example.org.', '192.0.2.1')] });
    const silent = await UpstreamServer.start();
    silent.fault = { drop: true };
    const p1 = await freePort();
    const p2 = await freePort();
    const s1 = await startServer(`.:${p1} {\n    loop\n    forward . ${good.addr}\n}\n`);
    const s2 = await startServer(`.:${p2} {\n    loop\n    forward . ${silent.addr}\n}\n`);
    try {
      // An unanswered probe is sent again 1s after its 2s timeout (the count restarts with each):
      // the silent upstream sees the first probe at 0s and 2s (forward's second try), the next at 3s.
      assert.equal(await exitWithin(Promise.race([s1.exited, s2.exited]), 4500), 'running');
      const probes = good.seen().filter((q) => q.type === RRType.HINFO);
      assert.equal(probes.length, 1, 'an answered probe is sent once');
      assert.match(probes[0]!.name, /^\d+\.\d+\.$/);
      const unanswered = silent.seen().filter((q) => q.type === RRType.HINFO);
      assert.ok(unanswered.length >= 3, `the probe was retried (${unanswered.length})`);
      assert.equal(new Set(unanswered.map((q) => q.name)).size, 1, 'always the same probe name');
      const r = await query(p1, 'www.example.org.', RRType.A);
      assert.equal(r.rcode, Rcode.NOERROR);
      // The probe name itself is an ordinary query once loop has disabled itself.
      const again = await query(p1, probes[0]!.name, RRType.HINFO);
      assert.equal(again.rcode, Rcode.NXDOMAIN);
      assert.equal(s1.proc.exitCode, null);
      assert.doesNotMatch(s1.stdout() + s2.stdout(), /plugin\/loop/);
    } finally {
      await s1.stop();
      await s2.stop();
      await good.stop();
      await silent.stop();
    }
  });
});
