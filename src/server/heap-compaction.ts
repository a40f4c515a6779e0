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
 * The same samples feed WarmUpDetector: the old generation grew, then settled, so load came and its
 * warm-up is over. page-out.ts drops the optimizing compiler's code then; that cue works at any
 * heap size.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { parseInteger } from '../corefile/directive-reader.js';

const COMPACT_BELOW_ENV = 'CLUSTERDNS_COMPACT_HEAP_BELOW_MB';
const DEFAULT_COMPACT_BELOW_MB = 48;
const CHECK_INTERVAL_MS = 1000;
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
  try {
    return parseInteger(raw, 0, 99_999) * MB;
  } catch (err) {
    throw new Error(`${COMPACT_BELOW_ENV}=${JSON.stringify(raw)}: ${(err as Error).message} (0: never, else a heap size in MB)`);
  }
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

function sampleV8(): HeapSample {
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

/** The last SETTLED_CHECKS samples of the old generation's used size, and whether they agree within 1 MB. */
class SettledWindow {
  private readonly recent: number[] = [];

  push(oldUsed: number): void {
    this.recent.push(oldUsed);
    if (this.recent.length > SETTLED_CHECKS) this.recent.shift();
  }

  settled(): boolean {
    return this.recent.length === SETTLED_CHECKS && Math.max(...this.recent) - Math.min(...this.recent) < MB;
  }

  clear(): void {
    this.recent.length = 0;
  }
}

/** Decides, one sample at a time, when a compaction pays (the rules in the module comment). */
export class CompactionPolicy {
  private readonly window = new SettledWindow();
  private last = -Infinity;

  constructor(private readonly belowBytes: number) {}

  /** True when this sample calls for a compaction now (the caller then compacts). */
  due(s: HeapSample, now: number): boolean {
    this.window.push(s.oldUsed);
    if (s.heapUsed >= this.belowBytes || !this.window.settled()) return false;
    const free = s.oldCommitted - s.oldUsed;
    if (free < MIN_FREE_BYTES || free < s.oldCommitted * MIN_FREE_SHARE || now - this.last < MIN_SPACING_MS) return false;
    this.last = now;
    this.window.clear();
    return true;
  }
}

/**
 * Says once when a warm-up is over: the old generation, having grown at least 2 MB over its smallest
 * size since watching began, has settled. Load came, the memo has filled, and the optimizing
 * compiler has done its work. Fed only once the server serves and its start-up is paged out, so
 * the list itself does not pass for a warm-up.
 */
export class WarmUpDetector {
  private readonly window = new SettledWindow();
  private lowest = Infinity;
  private grown = false;
  private done = false;

  /** True for the one sample at which the warm-up is over. */
  over(oldUsed: number): boolean {
    if (this.done) return false;
    this.window.push(oldUsed);
    if (oldUsed - this.lowest >= WARM_UP_GROWTH) this.grown = true;
    this.lowest = Math.min(this.lowest, oldUsed);
    if (!this.grown || !this.window.settled()) return false;
    this.done = true;
    return true;
  }
}

export interface HeapSamplingOptions {
  /** Compact while the used heap is under this many bytes (compactBelowBytes); 0: never. */
  compactBelowBytes: number;
  intervalMs?: number;
  hooks?: HeapCompactionHooks;
  /** Whether to feed the warm-up detector yet (default: from the start). */
  watchWarmUp?(): boolean;
  /** Called once, when the warm-up is over. */
  onWarmUp?(): void;
  /** A compaction threw: no more are tried. */
  onCompactionFailed?(err: unknown): void;
}

/**
 * Samples the heap every second for the compaction policy and the warm-up detector (the timer keeps
 * nothing alive); returns a stop function.
 */
export function startHeapSampling(o: HeapSamplingOptions): () => void {
  const hooks = o.hooks ?? { sample: sampleV8, compact: compactNow, now: () => performance.now() };
  const policy = o.compactBelowBytes > 0 ? new CompactionPolicy(o.compactBelowBytes) : undefined;
  const warmUp = new WarmUpDetector();
  let compacting = policy !== undefined;
  const timer = setInterval(() => {
    const s = hooks.sample();
    const warmedUp = (o.watchWarmUp?.() ?? true) && warmUp.over(s.oldUsed);
    if (warmedUp) o.onWarmUp?.();
    // Not in the same tick as the warm-up's page-out: each stalls the query path once (at 40k qps,
    // measured: the page-out's code faulting back ~26 ms, a compaction ~40 ms, together 64 ms); a
    // compaction still due is due a second later.
    if (!compacting || !policy!.due(s, hooks.now()) || warmedUp) return;
    try {
      hooks.compact();
    } catch (err) {
      compacting = false;
      o.onCompactionFailed?.(err);
    }
  }, o.intervalMs ?? CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
