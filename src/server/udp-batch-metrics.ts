/**
 * The batched UDP addon's own counters (BatchStats) as Prometheus metrics, read at scrape time:
 * what it read and wrote and in how many system calls, and what it could not do — sends the kernel
 * refused for now (EAGAIN; those replies waited for POLLOUT), replies dropped because too many were
 * already waiting, send and receive errors, datagrams too long to be a query. Without these a
 * reply lost inside the addon showed nowhere. They exist only while UDP is served in batches.
 * Counters are per process and stay monotonic across reloads (which replace sockets): a closed
 * socket's last counts are kept. (With -workers the primary sums the workers' counters, so a
 * restarted worker's share starts again at 0, as for every other counter.)
 */
import { Counter, Gauge } from 'prom-client';
import { once, registry } from '../metrics/registry.js';
import type { BatchSocket, BatchStats } from './udp-batch.js';

type Counted = Exclude<keyof BatchStats, 'queued'>;

const COUNTERS: ReadonlyArray<readonly [Counted, string, string]> = [
  ['received', 'clusterdns_udp_batch_received_total', 'Datagrams read by the batched UDP reader (recvmmsg).'],
  ['sent', 'clusterdns_udp_batch_sent_total', 'Replies the batched UDP writer handed to the kernel.'],
  ['batches', 'clusterdns_udp_batch_batches_total', 'Batches read (recvmmsg calls that returned datagrams).'],
  ['truncated', 'clusterdns_udp_batch_truncated_total', 'Datagrams longer than a slot (too long to be a query), dropped.'],
  ['recvErrors', 'clusterdns_udp_batch_receive_errors_total', 'recvmmsg errors other than EAGAIN.'],
  ['sendErrors', 'clusterdns_udp_batch_send_errors_total', 'Replies the kernel refused with an error other than EAGAIN.'],
  ['wouldBlock', 'clusterdns_udp_batch_would_block_total', 'Sends the kernel refused for now (EAGAIN); those replies waited for the socket to be writable.'],
  ['dropped', 'clusterdns_udp_batch_dropped_total', 'Replies dropped because the queue of replies waiting for a writable socket was full.'],
];

const live = new Set<BatchSocket>();
const gone = Object.fromEntries(COUNTERS.map(([stat]) => [stat, 0])) as Record<Counted, number>;
let registered = false;

function total(stat: Counted): number {
  let n = gone[stat];
  for (const s of live) n += s.stats()[stat];
  return n;
}

function register(): void {
  registered = true;
  for (const [stat, name, help] of COUNTERS) {
    once(name, () => new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(total(stat));
      },
    }));
  }
  once('clusterdns_udp_batch_queued', () => new Gauge({
    name: 'clusterdns_udp_batch_queued',
    help: 'Replies waiting for a UDP socket to be writable now.',
    registers: [registry],
    collect() {
      let n = 0;
      for (const s of live) n += s.stats().queued;
      this.set(n);
    },
  }));
}

/** Counts a batched socket from now on; call the returned function before closing it (idempotent). */
export function trackBatchSocket(sock: BatchSocket): () => void {
  if (!registered) register();
  live.add(sock);
  return () => {
    if (!live.delete(sock)) return;
    const last = sock.stats();
    for (const [stat] of COUNTERS) gone[stat] += last[stat];
  };
}
