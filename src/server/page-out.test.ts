import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pageOutWhenReady, readOnlyFileMappings } from './page-out.js';
import { skipWithoutAddon } from './testing.js';
import { nativeAddon } from './udp-batch.js';
import { privateNodeCopy } from '../../test/support/private-node.js';

const native = nativeAddon();
const skip = skipWithoutAddon();

test('readOnlyFileMappings: private read-only file mappings only', () => {
  const maps = [
    '00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node',
    '00b72000-025fe000 r-xp 00772000 fe:00 260689                             /usr/bin/node',
    '0563e000-0565d000 rw-p 0523d000 fe:00 260689                             /usr/bin/node',
    '3f290000-3f553000 rw-p 00000000 00:00 0                                  [heap]',
    '7f2c5ae00000-7f2c5af92000 r-xp 014c4000 fe:00 260689                     /usr/bin/node',
    '7f2c61b0d000-7f2c61b11000 r--p 001cf000 fe:00 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6',
    '7f2c61b11000-7f2c61b13000 rw-p 001d3000 fe:00 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6',
    '7f2c61c00000-7f2c61c01000 ---p 00000000 00:00 0 ',
    '7f2c62000000-7f2c62001000 r--s 00000000 00:05 77                         /dev/shm/shared',
    '7f2c62001000-7f2c62002000 r--p 00000000 00:01 88                         /memfd:jit (deleted)',
    '7f2c62002000-7f2c62003000 r--p 00000000 fe:00 99                         /tmp/gone (deleted)',
    '7f2c62003000-7f2c62004000 r-xp 00000000 fe:00 100                        /opt/with space/lib.so',
    '7f2c62004000-7f2c62005000 r--p 00000000 00:00 0                          [vvar]',
    '7ffd1b3f5000-7ffd1b3f7000 r-xp 00000000 00:00 0                          [vdso]',
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]',
    '',
  ].join('\n');
  assert.deepEqual(readOnlyFileMappings(maps).map((m) => [m.start.toString(16), m.end - m.start, m.path]), [
    ['400000', 0xb6f000 - 0x400000, '/usr/bin/node'],
    ['b72000', 0x25fe000 - 0xb72000, '/usr/bin/node'],
    ['7f2c5ae00000', 0x192000, '/usr/bin/node'],
    ['7f2c61b0d000', 0x4000, '/usr/lib/x86_64-linux-gnu/libc.so.6'],
    ['7f2c62003000', 0x1000, '/opt/with space/lib.so'],
  ]);
});

test('pageOut refuses what is not two positive integers, and reports an unmapped range as ENOMEM', { skip }, () => {
  assert.ok(native.ok, native.ok ? '' : native.reason);
  assert.throws(() => native.addon.pageOut(-4096, 4096), TypeError);
  assert.throws(() => native.addon.pageOut(4096, 0), TypeError);
  assert.throws(() => (native.addon.pageOut as (...a: unknown[]) => number)('x', 4096), TypeError);
  assert.equal(native.addon.pageOut(4096, 4096), 12, 'ENOMEM: nothing is mapped at 4096');
});

test('pageOutFileMappings drops the start-up pages of a node binary only this process maps', { skip }, () => {
  assert.ok(native.ok, native.ok ? '' : native.reason);
  const copy = privateNodeCopy();
  try {
    const pageOut = new URL('./page-out.ts', import.meta.url).pathname;
    const udpBatch = new URL('./udp-batch.ts', import.meta.url).pathname;
    const script = `const m = await import(${JSON.stringify(pageOut)}); const u = await import(${JSON.stringify(udpBatch)});
      const n = u.nativeAddon(); if (!n.ok) throw new Error(n.reason);
      console.log(JSON.stringify(m.pageOutFileMappings((s, l) => n.addon.pageOut(s, l))));`;
    const r = spawnSync(copy.node, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { mappings: number; failed: number; rssFileBeforeKb: number; rssFileAfterKb: number };
    assert.ok(res.mappings > 0);
    assert.equal(res.failed, 0, r.stdout);
    // Here: ~37 MB of file pages before, ~8 MB after.
    assert.ok(res.rssFileBeforeKb - res.rssFileAfterKb > 15 * 1024, `file-backed RSS ${res.rssFileBeforeKb} → ${res.rssFileAfterKb} kB`);
  } finally {
    copy.remove();
  }
});

test('pageOutWhenReady: once after the server is ready, once more after warm-up; never with CLUSTERDNS_PAGE_OUT=0; cancellable', { skip: process.platform !== 'linux' ? 'Linux only' : false }, async () => {
  const logged: string[] = [];
  const logger = { debug: (_o: unknown, msg?: string) => logged.push(String(msg)), warn: (_o: unknown, msg?: string) => logged.push(`warn ${String(msg)}`) } as never;
  let ready = false;
  let calls = 0;
  const pageOut = (): number => (calls++, 0);
  const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  const control = pageOutWhenReady({ isReady: () => ready, logger, pollMs: 5, pageOut, env: {} });
  control.afterWarmUp();
  assert.equal(control.ran(), false);
  await wait(40);
  assert.equal(calls, 0, 'nothing before ready, not even after warm-up');
  ready = true;
  await wait(40);
  const once = calls;
  assert.ok(once > 0, 'every read-only file mapping advised once ready');
  assert.equal(control.ran(), true);
  await wait(40);
  assert.equal(calls, once, 'and only once');
  assert.match(logged.join('\n'), /paged out start-up code: file-backed RSS \d+ → \d+ MB/);
  control.afterWarmUp();
  control.afterWarmUp();
  const twice = calls;
  assert.ok(twice > once, 'once more after warm-up');
  control.afterWarmUp();
  assert.equal(calls, twice, 'and only once');
  assert.match(logged.join('\n'), /paged out warm-up code/);

  calls = 0;
  pageOutWhenReady({ isReady: () => true, logger, pollMs: 5, pageOut, env: { CLUSTERDNS_PAGE_OUT: '0' } });
  const cancelled = pageOutWhenReady({ isReady: () => ready, logger, pollMs: 50, pageOut, env: {} });
  cancelled.cancel();
  cancelled.afterWarmUp();
  await wait(120);
  assert.equal(calls, 0, 'off with CLUSTERDNS_PAGE_OUT=0, and nothing after cancel');
});
