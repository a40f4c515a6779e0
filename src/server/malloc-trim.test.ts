import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { startMallocTrim } from './malloc-trim.js';
import { skipWithoutAddon } from './testing.js';
import { nativeAddon } from './udp-batch.js';

const native = nativeAddon();
const skip = skipWithoutAddon();

const rssAnonKiB = (): number => Number(/RssAnon:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);

test('mallocTrim gives freed malloc memory inside the heap back to the kernel', { skip }, () => {
  assert.ok(native.ok, native.ok ? '' : native.reason);

  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  // 60 MB of 1000-byte malloc'd buffers, every tenth kept: the freed runs between them are holes
  // glibc keeps (only the top of the heap is trimmed by itself).
  let bufs: Buffer[] | undefined = Array.from({ length: 60_000 }, () => Buffer.allocUnsafeSlow(1000).fill(1));
  const kept = bufs.filter((_, i) => i % 10 === 0);
  bufs = undefined;
  gc();
  gc();
  const before = rssAnonKiB();
  assert.equal(native.addon.mallocTrim(), true, 'memory was released');
  const released = before - rssAnonKiB();
  assert.equal(kept.length, 6000);
  // ~37 MB measured here.
  assert.ok(released > 16 * 1024, `released ${released} KiB`);
});

test('startMallocTrim: off with CLUSTERDNS_MALLOC_TRIM=0, and its timer keeps no process alive', { skip }, async () => {
  let calls = 0;
  const off = startMallocTrim({ CLUSTERDNS_MALLOC_TRIM: '0' }, 1, () => calls++);
  const on = startMallocTrim({}, 1, () => calls += 1000);
  await new Promise((r) => setTimeout(r, 30));
  off();
  on();
  assert.ok(calls >= 1000 && calls % 1000 === 0, `calls ${calls}: the enabled trim ran, the disabled one never`);
  // A process whose only pending work is the trim timer exits at once (the timer is unref'd).
  const module = new URL('./malloc-trim.ts', import.meta.url).pathname;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import(${JSON.stringify(module)}).then((m) => m.startMallocTrim({}, 50))`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(Date.now() - t0 < 10_000, 'the child waited for its timer');
});
