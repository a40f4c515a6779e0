/**
 * Compacts V8's old generation once it has settled with many of its pages half empty: one full
 * collection with --compact-on-every-full-gc set for it alone, at most once a minute, and only
 * while the heap is small.
 *
 * Why: V8 compacts only the most fragmented pages, within a budget, and only when it collects
 * anyway. At 10k objects the answer memo fills in the first seconds of load, its entries promoted
 * among that moment's garbage, and the old generation then kept 25 MB of pages for 19 MB of live
 * objects for as long as the load lasted (no full collection comes: nothing else reaches the old
 * generation under steady load). One whole compaction brings it to 20 MB (RSS under load ~5 MB
 * less) for one 15-19 ms pause.
 *
 * Not on every full collection: under 200 EndpointSlice changes a second the store's churn brings a
 * full collection every few seconds, and compacting each one took the watch → answer p99 under
 * load from 7-9 ms to 24 ms. Hence: only when the old generation's used size has stayed within
 * 1 MB for 5 s (the memo is full, no churn to speak of), at least 4 MB and 15% of its pages are
 * free, and a minute has passed since the last one. A compaction copies every live object, so its
 * pause and the memory it needs meanwhile grow with the heap: above CLUSTERDNS_COMPACT_HEAP_BELOW_MB
 * (default 48 MB of used heap, ~20k objects) V8's own choice is left alone; 0 turns it off.
 *
 * The same samples tell when a warm-up is over (the old generation grew, then settled), which is
 * when page-out.ts drops the optimizing compiler's code; that cue works at any heap size.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export const COMPACT_BELOW_ENV = 'CLUSTERDNS_COMPACT_HEAP_BELOW_MB';
export const DEFAULT_COMPACT_BELOW_MB = 48;
export const CHECK_INTERVAL_MS = 1000;
const MB = 1024 * 1024;
/** Checks in a row (one a second) over which the old generation's used size may move < 1 MB. */
const SETTLED_CHECKS = 5;
const MIN_FREE_BYTES = 4 * MB;
const MIN_FREE_SHARE = 0.15;
const MIN_SPACING_MS = 60_000;
/** How much the old generation must have grown before its settling counts as the end of a warm-up. */
const WARM_UP_GROWTH = 2 * MB;

/** The used-heap bound in bytes below which to compact; 0: never. Throws on a malformed variable. */
export function compactBelowBytes(env: NodeJS.ProcessEnv): number {
  const raw = env[COMPACT_BELOW_ENV];
  if (raw === undefined || raw === '') return DEFAULT_COMPACT_BELOW_MB * MB;
  if (!/^\d{1,5}$/.test(raw)) throw new Error(`${COMPACT_BELOW_ENV}=${JSON.stringify(raw)}: expected 0 (never) or a heap size in MB`);
  return Number(raw) * MB;
}

export interface HeapSample {
  /** Whole heap, used bytes. */
  heapUsed: number;
  /** The old generation: bytes used (live and not yet collected) and bytes of pages it holds. */
  oldUsed: number;
  oldCommitted: number;
}

export interface HeapCompactionHooks {
  sample(): HeapSample;
  compact(): void;
  now(): number;
}

export function sampleV8(): HeapSample {
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return { heapUsed: v8.getHeapStatistics().used_heap_size, oldUsed: old?.space_used_size ?? 0, oldCommitted: old?.space_size ?? 0 };
}

/**
 * One full collection that compacts the whole old generation. `gc` comes from a fresh context made
 * while --expose-gc is set for that moment only, so neither the process's global nor any later
 * context gets one; the context is garbage once this returns.
 */
export function compactNow(): void {
  v8.setFlagsFromString('--expose-gc');
  let gc: () => void;
  try {
    gc = vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** Decides, one sample at a time, when a compaction pays (the rules in the module comment). */
export class CompactionPolicy {
  private readonly recent: number[] = [];
  private last = -Infinity;
  private lowest = Infinity;
  private grown = false;
  private warm = false;

  constructor(private readonly belowBytes: number) {}

  /**
   * Records a sample; call before due() and warmedUp(). Growth towards a warm-up counts only from
   * the first sample with `watchWarmUp` (the server serves and its start-up is paged out: the list
   * itself must not pass for a warm-up).
   */
  observe(s: HeapSample, watchWarmUp = true): void {
    this.recent.push(s.oldUsed);
    if (this.recent.length > SETTLED_CHECKS) this.recent.shift();
    if (!watchWarmUp) return;
    if (s.oldUsed - this.lowest >= WARM_UP_GROWTH) this.grown = true;
    this.lowest = Math.min(this.lowest, s.oldUsed);
  }

  /** The old generation's used size has stayed within 1 MB over the last 5 samples. */
  private settled(): boolean {
    return this.recent.length === SETTLED_CHECKS && Math.max(...this.recent) - Math.min(...this.recent) < MB;
  }

  /** True when the last sample calls for a compaction now (the caller then compacts). */
  due(s: HeapSample, now: number): boolean {
    if (s.heapUsed >= this.belowBytes || !this.settled()) return false;
    const free = s.oldCommitted - s.oldUsed;
    if (free < MIN_FREE_BYTES || free < s.oldCommitted * MIN_FREE_SHARE || now - this.last < MIN_SPACING_MS) return false;
    this.last = now;
    this.recent.length = 0;
    return true;
  }

  /**
   * True once: the first time the old generation, having grown at least 2 MB over its smallest size
   * so far, has settled. Load came and its warm-up is over (the memo has filled, and the optimizing
   * compiler has done its work).
   */
  warmedUp(): boolean {
    if (this.warm || !this.grown || !this.settled()) return false;
    this.warm = true;
    return true;
  }
}

export interface CompactionListener {
  /** Whether to watch for a warm-up yet (default: from the start). */
  watchWarmUp?(): boolean;
  /** Called once when warmedUp() first says so (page-out.ts pages out the compiler's code then). */
  warmedUp?(): void;
  /** A compaction threw: no more are tried. */
  compactionFailed?(err: unknown): void;
}

/**
 * Samples the heap every intervalMs and compacts when the policy says so (the timer keeps nothing
 * alive); returns a stop function. Throws on a malformed CLUSTERDNS_COMPACT_HEAP_BELOW_MB.
 */
export function startHeapCompaction(
  env: NodeJS.ProcessEnv = process.env,
  intervalMs = CHECK_INTERVAL_MS,
  hooks: HeapCompactionHooks = { sample: sampleV8, compact: compactNow, now: () => performance.now() },
  listener: CompactionListener = {},
): () => void {
  const below = compactBelowBytes(env);
  const policy = new CompactionPolicy(below);
  let compacting = below !== 0;
  const timer = setInterval(() => {
    const s = hooks.sample();
    policy.observe(s, listener.watchWarmUp?.() ?? true);
    // Not in the same tick as a compaction: each stalls the query path once (at 40k qps, measured:
    // the page-out's code faulting back ~26 ms, the compaction ~40 ms, together 64 ms); a compaction
    // still due is due a second later.
    if (policy.warmedUp()) {
      listener.warmedUp?.();
      return;
    }
    if (!compacting || !policy.due(s, hooks.now())) return;
    try {
      hooks.compact();
    } catch (err) {
      compacting = false;
      listener.compactionFailed?.(err);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
