import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { waitUntil } from '../../test/support/wait.js';
import { CompactionPolicy, compactBelowBytes, startHeapSampling, WarmUpDetector, type HeapSample } from './heap-compaction.js';

const MB = 1024 * 1024;

test('compactBelowBytes: 48 MB by default, the variable in MB, 0 for never, malformed refused', () => {
  assert.equal(compactBelowBytes({}), 48 * MB);
  assert.equal(compactBelowBytes({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: '100' }), 100 * MB);
  assert.equal(compactBelowBytes({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: '0' }), 0);
  for (const bad of ['-1', '1.5', 'lots', '100000']) assert.throws(() => compactBelowBytes({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: bad }), /CLUSTERDNS_COMPACT_HEAP_BELOW_MB/);
});

test('CompactionPolicy: once the old generation has settled with enough free pages, at most once a minute, only for a small heap', () => {
  const sample = (oldUsed: number, oldCommitted: number, heapUsed = oldUsed + 5 * MB): HeapSample => ({ heapUsed, oldUsed, oldCommitted });
  const step = (p: CompactionPolicy, s: HeapSample, now: number): boolean => p.due(s, now);
  const p = new CompactionPolicy(48 * MB);
  let t = 0;
  const feed = (s: HeapSample, n: number): boolean[] => Array.from({ length: n }, () => step(p, s, (t += 1000)));
  // Growing (the memo filling): never, however fragmented.
  assert.deepEqual([10, 12, 14, 16, 18, 19].map((u) => step(p, sample(u * MB, 25 * MB), (t += 1000))), [false, false, false, false, false, false]);
  // Settled at 19 of 25 MB: due once the last 5 samples agree, then not again within a minute.
  const settled = feed(sample(19 * MB, 25 * MB), 70);
  assert.equal(settled.indexOf(true), 3, 'due on the 5th settled sample (the first 19 MB sample counted)');
  assert.equal(settled.filter(Boolean).length, 2, 'again only after 60 s');
  assert.equal(settled.lastIndexOf(true), 3 + 60);
  // Too little free: 2 MB, or 4 MB of 40 (10%).
  const q = new CompactionPolicy(48 * MB);
  assert.ok(Array.from({ length: 10 }, (_, i) => step(q, sample(19 * MB, 21 * MB), i * 1000)).every((d) => !d));
  assert.ok(Array.from({ length: 10 }, (_, i) => step(q, sample(36 * MB, 40 * MB), i * 1000)).every((d) => !d));
  // A large heap: never.
  const r = new CompactionPolicy(48 * MB);
  assert.ok(Array.from({ length: 10 }, (_, i) => step(r, sample(140 * MB, 180 * MB, 150 * MB), i * 1000)).every((d) => !d));
});

test('WarmUpDetector: once, when the old generation has grown 2 MB over its smallest size and then settled', () => {
  const d = new WarmUpDetector();
  // Idle after start-up: settled at 14 MB, never grown.
  assert.deepEqual([14, 14, 14, 14, 14, 14].map((mb) => d.over(mb * MB)), Array(6).fill(false));
  // Load: the memo fills (14 -> 19 MB), then stays: over on the 5th settled sample, once.
  assert.deepEqual([15, 17, 19, 19, 19, 19, 19, 19, 19].map((mb) => d.over(mb * MB)), [false, false, false, false, false, false, true, false, false]);
  // A large heap warms up too (the page-out does not depend on the compaction's size bound).
  const big = new WarmUpDetector();
  assert.deepEqual([100, 140, 140, 140, 140, 140].map((mb) => big.over(mb * MB)), [false, false, false, false, false, true]);
});

test('startHeapSampling: compacts when due and says when warm-up is over, never both in one tick; no compaction with a 0 bound', async () => {
  let compactions = 0;
  let warm = 0;
  let now = 0;
  let n = 0;
  let tick = 0;
  const ticks: string[] = [];
  // 10 MB at first, then 15 MB of 24 committed from the 3rd sample on.
  const sample = (): HeapSample => ({ heapUsed: 20 * MB, oldUsed: (n++ < 2 ? 10 : 15) * MB, oldCommitted: 24 * MB });
  const hooks = { sample, compact: () => { compactions++; ticks.push(`compact@${tick}`); }, now: () => (tick++, now += 1000) };
  const stop = startHeapSampling({ compactBelowBytes: 48 * MB, intervalMs: 2, hooks, onWarmUp: () => { warm++; ticks.push(`warm@${tick}`); } });
  await waitUntil(() => compactions > 0 && warm > 0, 5000, 'a compaction and the warm-up cue');
  stop();
  assert.equal(compactions, 1, 'once: the next is a minute of samples away');
  assert.equal(warm, 1);
  assert.notEqual(ticks[0]!.split('@')[1], ticks[1]!.split('@')[1], `not in the same tick: ${ticks.join(', ')}`);

  n = 0;
  let warmOff = 0;
  const stopOff = startHeapSampling({ compactBelowBytes: 0, intervalMs: 2, hooks: { ...hooks, compact: () => assert.fail('compacted') }, onWarmUp: () => warmOff++ });
  await waitUntil(() => warmOff > 0, 5000, 'the warm-up cue without compaction');
  stopOff();
});

test('startHeapSampling: no warm-up while not watched (start-up); a failing compaction is reported once and not retried', async () => {
  let n = 0;
  let watched = false;
  let warm = 0;
  let attempts = 0;
  const failures: unknown[] = [];
  const hooks = {
    sample: (): HeapSample => ({ heapUsed: 20 * MB, oldUsed: (n++ < 2 ? 10 : 15) * MB, oldCommitted: 24 * MB }),
    compact: () => {
      attempts++;
      throw new Error('no gc here');
    },
    now: (() => { let t = 0; return () => (t += 61_000); })(),
  };
  const stop = startHeapSampling({ compactBelowBytes: 48 * MB, intervalMs: 2, hooks, watchWarmUp: () => watched, onWarmUp: () => warm++, onCompactionFailed: (e) => failures.push(e) });
  await waitUntil(() => n > 20, 5000, 'samples');
  assert.equal(warm, 0, 'the growth from 10 to 15 MB happened before watching: no warm-up');
  assert.equal(attempts, 1, 'tried once');
  assert.equal(failures.length, 1);
  watched = true;
  await waitUntil(() => n > 40, 5000, 'more samples');
  stop();
  assert.equal(warm, 0, 'settled at 15 MB since: no growth while watched');
  assert.equal(attempts, 1, 'never again');
});

test('compactNow gives back the pages that garbage left half empty (a child process, real V8)', () => {
  // 300k small objects promoted to the old generation, then every other one dropped: each page is
  // left half full. A full collection by V8's choice keeps the pages; compactNow moves the live half together.
  const module = new URL('./heap-compaction.ts', import.meta.url).pathname;
  const script = `const v8 = await import('node:v8'); const vm = await import('node:vm'); const m = await import(${JSON.stringify(module)});
    v8.setFlagsFromString('--expose-gc'); const gc = vm.runInNewContext('gc');
    const keep = []; for (let i = 0; i < 300000; i++) keep.push({ a: i, b: 'x' + i });
    gc(); gc();
    for (let i = 0; i < keep.length; i += 2) keep[i] = null;
    const old = () => { const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'old_space'); return [s.space_used_size, s.space_size]; };
    gc(); const before = old();
    m.compactNow(); const after = old();
    console.log(JSON.stringify({ before, after, kept: keep.length }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout) as { before: [number, number]; after: [number, number] };
  const show = `old generation used/committed MB: after a plain full GC ${(before[0] / MB).toFixed(1)}/${(before[1] / MB).toFixed(1)}, after compactNow ${(after[0] / MB).toFixed(1)}/${(after[1] / MB).toFixed(1)}`;
  // Here: ~11.8/23.7 MB, then ~11.7/12.5 MB.
  assert.ok(before[1] > before[0] * 1.5, show);
  assert.ok(after[1] < after[0] * 1.25, show);
  assert.ok(after[1] < before[1] * 0.7, show);
});
