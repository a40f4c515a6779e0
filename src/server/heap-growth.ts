/**
 * How far V8 lets the old generation grow past the live heap before its next full collection.
 *
 * V8 picks that factor itself, between 1.1 and 4, from how fast it collects: for this server's
 * heap — mostly a large record store that changes slowly, plus what the watch's churn and the
 * answer memo promote — it chose ~1.45. (The figures below were measured while the prometheus
 * plugin still observed every GC, whose entries were most of what reached the old generation under
 * load; see plugins/prometheus/metrics.ts.) At 200k objects (143 MB live) that let the heap reach
 * ~210 MB before each full collection: RSS under load 285-313 MB against CoreDNS's sizing
 * formula of 264 MB. With 10% it stays at ~157 MB (RSS under load 251 MB) for a full collection
 * every ~2 s under 36k qps (10-17 ms pause, 35-55 ms of incremental marking steps). At 10k
 * objects V8's minimum heap size decides, and nothing changes.
 *
 * The flag is not allowed in NODE_OPTIONS, so the server sets it at start-up, before the store
 * is built (v8.setFlagsFromString: V8 reads it at every limit computation). A --heap-growing-percent
 * on node's own command line wins; CLUSTERDNS_HEAP_GROWING_PERCENT overrides the default
 * (0: leave V8's own choice).
 */
import v8 from 'node:v8';

export const DEFAULT_HEAP_GROWING_PERCENT = 10;
export const HEAP_GROWING_ENV = 'CLUSTERDNS_HEAP_GROWING_PERCENT';

/** The V8 flag to set, or undefined to leave V8's choice. Throws on a malformed variable. */
export function heapGrowingFlag(env: NodeJS.ProcessEnv, execArgv: readonly string[]): string | undefined {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return undefined;
  const raw = env[HEAP_GROWING_ENV];
  let percent = DEFAULT_HEAP_GROWING_PERCENT;
  if (raw !== undefined && raw !== '') {
    if (!/^\d{1,3}$/.test(raw) || Number(raw) > 300) {
      throw new Error(`${HEAP_GROWING_ENV}=${JSON.stringify(raw)}: expected 0 (V8's own choice) or a percentage from 1 to 300`);
    }
    percent = Number(raw);
  }
  return percent === 0 ? undefined : `--heap-growing-percent=${percent}`;
}

/** Applies heapGrowingFlag; returns the flag set, if any. */
export function applyHeapGrowth(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): string | undefined {
  const flag = heapGrowingFlag(env, execArgv);
  if (flag !== undefined) v8.setFlagsFromString(flag);
  return flag;
}
