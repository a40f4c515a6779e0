/**
 * Gives the memory glibc's malloc keeps in its free lists back to the kernel every 10 s (why, and
 * what it measured, in native/malloc_trim.c: a settled 10k-object server 69.4 → 65.5 MB RSS). A
 * call took 0.2-0.5 ms on a fragmented heap here, so every 10 s costs nothing measurable; an
 * active server has little free memory to give back and loses nothing to it. Without the native
 * addon (or with CLUSTERDNS_MALLOC_TRIM=0) it does nothing.
 */
import { nativeAddon } from './udp-batch.js';

export const MALLOC_TRIM_INTERVAL_MS = 10_000;

/**
 * Starts the periodic trim in this process (the timer keeps nothing alive); returns a stop function.
 * `trim` defaults to the addon's, when it loads.
 */
export function startMallocTrim(env: NodeJS.ProcessEnv = process.env, intervalMs = MALLOC_TRIM_INTERVAL_MS, trim?: () => unknown): () => void {
  if (env.CLUSTERDNS_MALLOC_TRIM === '0') return () => undefined;
  if (!trim) {
    const native = nativeAddon();
    if (!native.ok) return () => undefined;
    trim = () => native.addon.mallocTrim();
  }
  const timer = setInterval(trim, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
