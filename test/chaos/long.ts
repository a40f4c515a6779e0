/**
 * `npm run chaos`: the long chaos run.
 * 1. API faults in a loop under load with a changing cluster (test/chaos/api.ts): dropped watches,
 *    410, 500s, hangs, and a 60 s outage (CHAOS_OUTAGE_MS), with the production log interval (30 s)
 *    so the failure log lines during the outage are what a user would see.
 * 2. Reloads under heavier load (CHAOS_RELOADS, default 20).
 * 3. SIGTERM under load, several times (CHAOS_SIGTERMS, default 5).
 * CHAOS_PHASES=api,reloads,sigterm (default all) picks phases.
 * Prints the figures; exits 1 on a lost query, a wrong answer, a slow convergence, or a failed bound.
 */
import { runApiChaos, type FaultKind } from './api.js';
import { reloadsUnderLoad, sigtermUnderLoad } from './lifecycle.js';

const log = (s: string): void => console.log(`[chaos ${new Date().toISOString()}] ${s}`);
const failures: string[] = [];
const check = (ok: boolean, what: string): void => {
  if (!ok) failures.push(what);
};

const phases = new Set((process.env.CHAOS_PHASES ?? 'api,reloads,sigterm').split(','));

// ---- 1. API faults ----
if (phases.has('api')) {
const outageMs = Number(process.env.CHAOS_OUTAGE_MS ?? 60_000);
const rounds: FaultKind[] = ['drop', '410', '500', 'hang', 'outage', 'drop', '410', '500', 'hang', 'drop', '410', '500'];
log(`API chaos: ${rounds.join(', ')}; outage ${outageMs} ms`);
const api = await runApiChaos({
  services: 50,
  rounds,
  outageMs,
  hangMs: 10_000,
  changesPerFault: 10,
  convergeMs: 15_000,
  udpWorkers: 12,
  tcpWorkers: 4,
  // Request and idle timeouts short enough that a hang ends in seconds; backoff and log interval as in production.
  env: { CLUSTERDNS_KUBE_REQUEST_TIMEOUT_MS: '2000', CLUSTERDNS_KUBE_IDLE_TIMEOUT_MS: '4000' },
  log,
});
const l = api.load;
console.log(`
API chaos
  queries          udp ${l.udp.answered}/${l.udp.sent} answered, tcp ${l.tcp.answered}/${l.tcp.sent}; lost ${l.udp.lost.length + l.tcp.lost.length}; wrong ${l.udp.wrong.length + l.tcp.wrong.length}
  cluster changes  ${api.changes}
  convergence      ${api.convergence.map((c) => `${c.fault} ${c.ms} ms`).join(', ')}
  failures         ${api.failuresCounted} counted (clusterdns_kubernetes_watch_failures_total); ${api.failureLogLines} failure log lines, ${api.outageLogLines} during the ${outageMs / 1000} s outage; ${api.logLines} log lines in all
  rss              ${api.rssKiB.start} -> ${api.rssKiB.end} KiB
`);
for (const x of [...l.udp.lost, ...l.tcp.lost, ...l.udp.wrong, ...l.tcp.wrong, ...api.problems].slice(0, 20)) console.log(`  ! ${x}`);
check(l.udp.lost.length + l.tcp.lost.length === 0, 'API chaos: lost queries');
check(l.udp.wrong.length + l.tcp.wrong.length === 0, 'API chaos: wrong answers');
check(api.problems.length === 0, 'API chaos: slow convergence');
// One line per kind (3) per 30 s at most while the API is away.
check(api.outageLogLines <= 3 * (Math.ceil(outageMs / 30_000) + 1), `API chaos: ${api.outageLogLines} failure lines during the outage`);
}

// ---- 2. Reloads ----
if (phases.has('reloads')) {
const reloads = Number(process.env.CHAOS_RELOADS ?? 20);
log(`${reloads} reloads under load`);
const rl = await reloadsUnderLoad({ reloads, everyMs: 500, udpWorkers: 48, tcpWorkers: 16 });
console.log(`
reloads
  ${rl.reloads} reloads, ${rl.reloadFailures} failed; udp ${rl.udp.answered}/${rl.udp.sent} answered, tcp ${rl.tcp.answered}/${rl.tcp.sent}; lost ${rl.udp.lost.length + rl.tcp.lost.length}; wrong ${rl.udp.wrong.length + rl.tcp.wrong.length}
`);
for (const x of [...rl.udp.lost, ...rl.tcp.lost, ...rl.udp.wrong, ...rl.tcp.wrong].slice(0, 20)) console.log(`  ! ${x}`);
check(rl.udp.lost.length + rl.tcp.lost.length + rl.udp.wrong.length + rl.tcp.wrong.length === 0 && rl.reloadFailures === 0, 'reloads: lost or wrong');
}

// ---- 3. SIGTERM ----
if (phases.has('sigterm')) {
const sigterms = Number(process.env.CHAOS_SIGTERMS ?? 5);
let lost = 0;
for (let i = 0; i < sigterms; i++) {
  log(`SIGTERM ${i + 1}/${sigterms}`);
  const r = await sigtermUnderLoad({ lameduckMs: 1000 + 500 * i, loadMs: 1500, udpWorkers: 32, tcpWorkers: 12 });
  lost += r.udp.lost.length + r.tcp.lost.length;
  console.log(`  udp ${r.udp.sent} sent, ${r.udp.answered} answered, ${r.udp.refused} refused, ${r.udp.lost.length} lost; tcp ${r.tcp.sent} sent, ${r.tcp.answered} answered, ${r.tcp.lost.length} lost; ` +
    `${r.answeredAfterClose} answered after the close (${r.slowAnsweredAfterClose} slow); close ${r.closeAfterMs} ms, exit ${r.exitCode} after ${r.exitAfterMs} ms`);
  for (const x of [...r.udp.lost, ...r.tcp.lost, ...r.udp.wrong, ...r.tcp.wrong].slice(0, 10)) console.log(`  ! ${x}`);
  check(r.udp.lost.length + r.tcp.lost.length + r.udp.wrong.length + r.tcp.wrong.length === 0 && r.exitCode === 0, `SIGTERM ${i + 1}: lost, wrong or bad exit`);
}
console.log(`\nSIGTERM: ${sigterms} runs, ${lost} queries lost\n`);
}

for (const f of failures) console.log(`FAIL: ${f}`);
console.log(failures.length === 0 ? 'PASS' : 'FAIL');
process.exit(failures.length === 0 ? 0 : 1);
