/**
 * While V8's heap is small, every full collection compacts the whole old generation
 * (--compact-on-every-full-gc), so the old generation gives back the pages that garbage left
 * half empty.
 *
 * Why: V8 compacts only the most fragmented pages, within a budget. At 10k objects the answer
 * memo fills in the first seconds of load, its entries promoted among that moment's garbage, and
 * the old generation kept 25 MB of pages for 19 MB of live objects from then on: RSS under load
 * 63.5-65 MB. With whole compaction it keeps 20 MB (RSS under load 59-62 MB), for full pauses of
 * 15-19 ms instead of ~4 ms. Under steady load full collections are rare: nothing reaches the old
 * generation once the memo is full (the prometheus plugin no longer observes every GC; see its
 * metrics.ts).
 *
 * A compaction copies every live object, so its pause and the memory it needs meanwhile grow with
 * the heap: above CLUSTERDNS_COMPACT_HEAP_BELOW_MB (default 48 MB of used heap, ~20k objects) V8's
 * own choice is left alone. The heap is checked once a second (the flag is read at every full
 * collection); 0 turns it off.
 */
import v8 from 'node:v8';

export const COMPACT_BELOW_ENV = 'CLUSTERDNS_COMPACT_HEAP_BELOW_MB';
export const DEFAULT_COMPACT_BELOW_MB = 48;
export const CHECK_INTERVAL_MS = 1000;

/** The used-heap bound in bytes below which to compact fully; 0: never. Throws on a malformed variable. */
export function compactBelowBytes(env: NodeJS.ProcessEnv): number {
  const raw = env[COMPACT_BELOW_ENV];
  if (raw === undefined || raw === '') return DEFAULT_COMPACT_BELOW_MB * 1024 * 1024;
  if (!/^\d{1,5}$/.test(raw)) throw new Error(`${COMPACT_BELOW_ENV}=${JSON.stringify(raw)}: expected 0 (never) or a heap size in MB`);
  return Number(raw) * 1024 * 1024;
}

export interface HeapCompactionHooks {
  heapUsed(): number;
  setFlags(flags: string): void;
}

const v8Hooks: HeapCompactionHooks = {
  heapUsed: () => v8.getHeapStatistics().used_heap_size,
  setFlags: (flags) => v8.setFlagsFromString(flags),
};

/**
 * Sets the flag now and follows the heap's size every intervalMs (the timer keeps nothing alive);
 * returns a stop function. Throws on a malformed CLUSTERDNS_COMPACT_HEAP_BELOW_MB.
 */
export function startHeapCompaction(env: NodeJS.ProcessEnv = process.env, intervalMs = CHECK_INTERVAL_MS, hooks: HeapCompactionHooks = v8Hooks): () => void {
  const below = compactBelowBytes(env);
  if (below === 0) return () => undefined;
  let on: boolean | undefined;
  const check = (): void => {
    const want = hooks.heapUsed() < below;
    if (want === on) return;
    hooks.setFlags(want ? '--compact-on-every-full-gc' : '--no-compact-on-every-full-gc');
    on = want;
  };
  check();
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
