/**
 * SIGTERM and reloads under load, counted per query (see load.ts for what "lost" means). Used by
 * test/hardening-lifecycle.test.ts and, longer and heavier, by `npm run chaos`.
 */
import fs from 'node:fs';
import { Rcode, RRType } from '../../src/dns/constants.js';
import type { Message } from '../../src/dns/message.js';
import { query } from '../support/dns-client.js';
import { rr, UpstreamServer } from '../support/upstream-server.js';
import { bigHosts, metricsText, metricSum, PROBES, startTarget, targetCorefile, waitUntil, type Probe } from '../fuzz/target.js';
import { startLoad, untilAllStopped, type LoadOptions, type TransportCounts } from './load.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addresses = (m: Message): string => m.answers.map((r) => ('address' in r ? r.address : '')).sort().join(',');

export const SLOW: Probe = {
  name: 'slow.fwd.test.', type: RRType.A,
  check: (m) => (m.rcode === Rcode.NOERROR && addresses(m) === '203.0.113.7' ? undefined : `slow.fwd.test: rcode ${m.rcode} ${addresses(m)}`),
};

export interface SigtermResult {
  udp: TransportCounts;
  tcp: TransportCounts;
  /** Answers that arrived after the client saw the listeners close (answered while draining). */
  answeredAfterClose: number;
  slowAnsweredAfterClose: number;
  /** ms from SIGTERM to the first refusal a client saw, and to the exit. */
  closeAfterMs: number;
  exitAfterMs: number;
  exitCode: number | null;
}

function merge(a: TransportCounts, b: TransportCounts): TransportCounts {
  return {
    sent: a.sent + b.sent, answered: a.answered + b.answered, refused: a.refused + b.refused,
    lost: [...a.lost, ...b.lost], wrong: [...a.wrong, ...b.wrong],
    firstRefusalAt: Math.min(a.firstRefusalAt ?? Infinity, b.firstRefusalAt ?? Infinity),
  };
}

/**
 * Starts the target with `health { lameduck }` and a zone forwarded to an upstream that answers
 * after 300 ms, puts it under load (fast answers from every plugin, and slow forwarded ones), sends
 * SIGTERM after `loadMs`, and counts until every client saw the listeners close.
 */
export async function sigtermUnderLoad(o: { lameduckMs: number; loadMs: number; udpWorkers: number; tcpWorkers: number; args?: string[] }): Promise<SigtermResult> {
  const up = await UpstreamServer.start({ records: [rr.a('slow.fwd.test.', '203.0.113.7')] });
  up.fault = { delayMs: 300 };
  try {
    const t = await startTarget({
      extra: `    health 127.0.0.1:0 {\n        lameduck ${o.lameduckMs}ms\n    }\n`,
      blocks: (port) => `fwd.test:${port} {\n    forward . 127.0.0.1:${up.port}\n}\n`,
      ...(o.args ? { args: o.args } : {}),
    });
    const fastO: LoadOptions = { port: t.port, probes: PROBES, udpWorkers: o.udpWorkers, tcpWorkers: o.tcpWorkers };
    const slowO: LoadOptions = { port: t.port, probes: [SLOW], udpWorkers: Math.ceil(o.udpWorkers / 3), tcpWorkers: Math.ceil(o.tcpWorkers / 2) };
    const fast = startLoad(fastO);
    const slow = startLoad(slowO);
    await sleep(o.loadMs);
    const sigterm = Date.now();
    t.srv.proc.kill('SIGTERM');
    const exitCode = await t.srv.exited;
    const exitAfterMs = Date.now() - sigterm;
    await untilAllStopped(fast, fastO, 5000);
    await untilAllStopped(slow, slowO, 5000);
    const f = await fast.stop();
    const s = await slow.stop();
    const udp = merge(f.udp, s.udp);
    return {
      udp,
      tcp: merge(f.tcp, s.tcp),
      answeredAfterClose: f.answeredAfterClose + s.answeredAfterClose,
      slowAnsweredAfterClose: s.answeredAfterClose,
      closeAfterMs: (udp.firstRefusalAt ?? NaN) - sigterm,
      exitAfterMs,
      exitCode,
    };
  } finally {
    await up.stop();
  }
}

export interface ReloadResult {
  udp: TransportCounts;
  tcp: TransportCounts;
  reloads: number;
  reloadFailures: number;
  seen: string[];
}

/**
 * `reloads` Corefile changes (the hosts file of hosts.test alternates) applied with SIGUSR1 under
 * load; each one must take effect. The hosts probe may answer either file's address, nothing else.
 */
export async function reloadsUnderLoad(o: { reloads: number; everyMs: number; udpWorkers: number; tcpWorkers: number }): Promise<ReloadResult> {
  const hosts = (n: number): string => `192.0.2.${n} www.hosts.test\n2001:db8::${n} www.hosts.test\n${bigHosts}\n`;
  const t = await startTarget({ files: { 'hosts2.txt': hosts(2) } });
  const www = PROBES.find((p) => p.name === 'www.hosts.test.')!;
  const alternatives = { [www.name]: [(m: Message) => (addresses(m) === '2001:db8::2' ? undefined : `www.hosts.test AAAA: ${addresses(m)}`)] };
  const load = startLoad({ port: t.port, probes: PROBES, udpWorkers: o.udpWorkers, tcpWorkers: o.tcpWorkers, alternatives });
  const seen = new Set<string>();
  try {
    for (let i = 0; i < o.reloads; i++) {
      await sleep(o.everyMs);
      fs.writeFileSync(t.srv.corefile, targetCorefile(t.port, t.metricsPort, { hostsFile: i % 2 === 0 ? 'hosts2.txt' : 'hosts.txt' }));
      t.srv.proc.kill('SIGUSR1');
      const want = i % 2 === 0 ? '2001:db8::2' : '2001:db8::1';
      await waitUntil(async () => addresses(await query(t.port, www.name, www.type)) === want, 10_000, `reload ${i + 1}`);
      seen.add(want);
    }
    await sleep(300);
  } finally {
    await load.stop();
  }
  const m = await metricsText(t.metricsPort);
  await t.srv.stop();
  return { udp: load.result.udp, tcp: load.result.tcp, reloads: o.reloads, reloadFailures: metricSum(m, 'coredns_reload_failed_total'), seen: [...seen].sort() };
}
