/**
 * Once the server is first ready, tells the kernel it may drop the pages of the node binary (and of
 * the other read-only files it maps) that start-up read: MADV_PAGEOUT through the native addon
 * (native/page_out.c, which says what it measured). Node reads ~34 MB of its own binary to start
 * (the V8 snapshot, the bootstrap, built-in modules); a serving process touches about half of that
 * again, and those pages come back on their first touch, once.
 *
 * Once more after warm-up (afterWarmUp(), which heap-compaction.ts's samples call once the old
 * generation grew under load and then settled): the first seconds of load run V8's optimizing
 * compiler, whose code a warmed-up server no longer needs: the binary's resident pages under load
 * went from ~21 to ~17 MB.
 * No more than that: every page-out makes the query path fault its code back in from the file.
 *
 * The kernel decides what actually goes: only pages of a file this process owns or could open for
 * writing (the image gives the server user its node binary; deploy/README.md), and only pages no
 * other process maps. With `-workers N` the binary's pages are shared by N + 1 processes, so little
 * goes. Without the addon, off Linux, or with CLUSTERDNS_PAGE_OUT=0 it does nothing.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { nativeAddon } from './udp-batch.js';

export interface FileMapping {
  start: number;
  end: number;
  path: string;
}

/**
 * The mappings in /proc/PID/maps text worth a page-out: private, readable, not writable, backed by
 * a file that still exists. Anonymous memory, the stack, [vdso] and friends, memfd and deleted files
 * are left alone. A page-out loses nothing in any case: pages of these mappings that were written
 * before they became read-only (relocations) are anonymous copies, which the kernel swaps out or,
 * without swap, keeps.
 */
export function readOnlyFileMappings(maps: string): FileMapping[] {
  const out: FileMapping[] = [];
  for (const line of maps.split('\n')) {
    // start-end perms offset dev inode path (the path may hold spaces)
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-[x-]p [0-9a-f]+ \S+ (\d+)\s+(\/.*)$/.exec(line);
    if (!m || m[3] === '0') continue;
    const path = m[4]!;
    if (path.endsWith(' (deleted)') || path.startsWith('/memfd:')) continue;
    out.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), path });
  }
  return out;
}

export interface PageOutResult {
  /** Mappings advised, and how many of them the kernel refused (errno other than 0). */
  mappings: number;
  failed: number;
  /** The first refusal's errno, if any (EINVAL: a kernel older than 5.4). */
  errno?: number;
  /** RssFile of /proc/self/status before and after, kB. */
  rssFileBeforeKb: number;
  rssFileAfterKb: number;
  ms: number;
}

/** RssFile of /proc/PID/status text, kB. */
export function rssFileKb(status: string): number {
  return Number(/^RssFile:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
}

/** Pages out this process's read-only file mappings now. */
export function pageOutFileMappings(pageOut: (start: number, length: number) => number): PageOutResult {
  const t0 = performance.now();
  const before = rssFileKb(fs.readFileSync('/proc/self/status', 'utf8'));
  const mappings = readOnlyFileMappings(fs.readFileSync('/proc/self/maps', 'utf8'));
  let failed = 0;
  let errno: number | undefined;
  for (const m of mappings) {
    const err = pageOut(m.start, m.end - m.start);
    if (err !== 0) {
      failed++;
      errno ??= err;
    }
  }
  const after = rssFileKb(fs.readFileSync('/proc/self/status', 'utf8'));
  return { mappings: mappings.length, failed, ...(errno !== undefined ? { errno } : {}), rssFileBeforeKb: before, rssFileAfterKb: after, ms: performance.now() - t0 };
}

export interface PageOutSchedule {
  /** True once the serving configuration is ready (the kubernetes plugin has listed). */
  isReady(): boolean;
  logger: Pick<Logger, 'debug' | 'warn'>;
  env?: NodeJS.ProcessEnv;
  pollMs?: number;
  /** Defaults to the addon's pageOut, when it loads. */
  pageOut?: (start: number, length: number) => number;
}

export interface PageOutControl {
  /** Cancels a page-out still waiting for readiness. */
  cancel(): void;
  /** True once the start-up page-out has run. */
  ran(): boolean;
  /** Pages out once more, if the first one ran and this was not called before. */
  afterWarmUp(): void;
}

/**
 * Checks every pollMs (250 ms) whether the server is ready and pages out once when it is. The
 * timer keeps no process alive.
 */
export function pageOutWhenReady(o: PageOutSchedule): PageOutControl {
  const idle: PageOutControl = { cancel: () => undefined, ran: () => false, afterWarmUp: () => undefined };
  if ((o.env ?? process.env).CLUSTERDNS_PAGE_OUT === '0' || process.platform !== 'linux') return idle;
  let pageOut = o.pageOut;
  if (!pageOut) {
    const native = nativeAddon();
    if (!native.ok) return idle;
    pageOut = (start, length) => native.addon.pageOut(start, length);
  }
  const advise = pageOut;
  let done = 0;
  const run = (what: string): void => {
    done++;
    try {
      const r = pageOutFileMappings(advise);
      o.logger.debug(r, `paged out ${what}: file-backed RSS ${Math.round(r.rssFileBeforeKb / 1024)} → ${Math.round(r.rssFileAfterKb / 1024)} MB`);
    } catch (err) {
      o.logger.warn({ err }, `paging out ${what} failed`);
    }
  };
  const timer = setInterval(() => {
    if (!o.isReady()) return;
    clearInterval(timer);
    run('start-up code');
  }, o.pollMs ?? 250);
  timer.unref();
  return {
    cancel: () => clearInterval(timer),
    ran: () => done > 0,
    afterWarmUp: () => {
      if (done === 1) run('warm-up code');
    },
  };
}
