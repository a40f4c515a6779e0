import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compactBelowBytes, startHeapCompaction } from './heap-compaction.js';

test('compactBelowBytes: 48 MB by default, the variable in MB, 0 for never, malformed refused', () => {
  assert.equal(compactBelowBytes({}), 48 * 1024 * 1024);
  assert.equal(compactBelowBytes({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: '100' }), 100 * 1024 * 1024);
  assert.equal(compactBelowBytes({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: '0' }), 0);
  for (const bad of ['-1', '1.5', 'lots', '999999']) assert.throws(() => compactBelowBytes({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: bad }), /CLUSTERDNS_COMPACT_HEAP_BELOW_MB/);
});

test('startHeapCompaction: on while the heap is small, off once it grows past the bound, and back', async () => {
  let used = 10 << 20;
  const flags: string[] = [];
  const stop = startHeapCompaction({}, 5, { heapUsed: () => used, setFlags: (f) => flags.push(f) });
  assert.deepEqual(flags, ['--compact-on-every-full-gc'], 'set at once');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(flags.length, 1, 'set again only when it changes');
  used = 200 << 20;
  await new Promise((r) => setTimeout(r, 30));
  used = 20 << 20;
  await new Promise((r) => setTimeout(r, 30));
  stop();
  assert.deepEqual(flags, ['--compact-on-every-full-gc', '--no-compact-on-every-full-gc', '--compact-on-every-full-gc']);
  const none: string[] = [];
  startHeapCompaction({ CLUSTERDNS_COMPACT_HEAP_BELOW_MB: '0' }, 5, { heapUsed: () => 0, setFlags: (f) => none.push(f) })();
  assert.deepEqual(none, []);
});

test('the flag gives back the pages that garbage left half empty (V8, two child processes)', () => {
  // 300k small objects promoted to the old generation, then every other one dropped: each page is
  // left half full. V8's own choice keeps the pages; a whole compaction moves the live half together.
  const script = `const v8 = require('node:v8');
    if (process.argv[1] === 'on') v8.setFlagsFromString('--compact-on-every-full-gc');
    const keep = []; for (let i = 0; i < 300000; i++) keep.push({ a: i, b: 'x' + i });
    gc(); gc();
    for (let i = 0; i < keep.length; i += 2) keep[i] = null;
    gc();
    const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
    console.log(old.space_used_size, old.space_size);`;
  const oldSpace = (mode: string): { used: number; committed: number } => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script, mode], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const [used, committed] = r.stdout.trim().split(' ').map((n) => Number(n) / (1 << 20)) as [number, number];
    return { used, committed };
  };
  const off = oldSpace('off');
  const on = oldSpace('on');
  // Here: 11.8 MB live in 23.7 MB of pages by V8's choice, 11.7 MB in 12.5 MB compacting.
  const show = `old generation used/committed: V8's choice ${off.used.toFixed(1)}/${off.committed.toFixed(1)} MB, compacting ${on.used.toFixed(1)}/${on.committed.toFixed(1)} MB`;
  assert.ok(off.committed > off.used * 1.5, show);
  assert.ok(on.committed < on.used * 1.25, show);
});
