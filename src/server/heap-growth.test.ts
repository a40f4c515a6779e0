import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DEFAULT_HEAP_GROWING_PERCENT, heapGrowingFlag, HEAP_GROWING_ENV } from './heap-growth.js';

test('the default, the environment override, and node flags winning', () => {
  assert.equal(heapGrowingFlag({}, []), `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
  assert.equal(heapGrowingFlag({ [HEAP_GROWING_ENV]: '' }, []), `--heap-growing-percent=${DEFAULT_HEAP_GROWING_PERCENT}`);
  assert.equal(heapGrowingFlag({ [HEAP_GROWING_ENV]: '25' }, []), '--heap-growing-percent=25');
  assert.equal(heapGrowingFlag({ [HEAP_GROWING_ENV]: '0' }, []), undefined, "0 leaves V8's own choice");
  assert.equal(heapGrowingFlag({}, ['--max-semi-space-size=1', '--heap-growing-percent=50']), undefined);
  assert.equal(heapGrowingFlag({ [HEAP_GROWING_ENV]: '25' }, ['--heap_growing_percent=50']), undefined);
  for (const bad of ['-1', '10%', 'ten', '301', '1.5', '1e2']) {
    assert.throws(() => heapGrowingFlag({ [HEAP_GROWING_ENV]: bad }, []), new RegExp(`${HEAP_GROWING_ENV}=.*expected 0`), bad);
  }
});

test('the flag bounds the heap: a churning heap over a large live set peaks lower with it', () => {
  // 1.5M live objects (~150 MB), then a churn that promotes garbage into the old generation: the
  // peak heap is what RSS follows. Child processes, so each starts from V8's defaults.
  const program = `
    const v8 = require('node:v8');
    const { applyHeapGrowth } = require(process.env.MODULE);
    applyHeapGrowth();
    const live = []; for (let i = 0; i < 1_500_000; i++) live.push({ a: 'x' + i, b: i });
    let peak = 0; const churn = [];
    for (let r = 0; r < 2_000_000; r++) {
      churn.push({ k: 'y' + r, v: [r, r] });
      if (churn.length > 50_000) churn.splice(0, 25_000);
      if ((r & 0xffff) === 0) peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
    }
    process.stdout.write(String(peak + live.length * 0));
  `;
  const peak = (percent: string): number => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--max-semi-space-size=1', '-e', program], {
      env: { ...process.env, [HEAP_GROWING_ENV]: percent, MODULE: new URL('./heap-growth.ts', import.meta.url).pathname },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout);
  };
  const v8Choice = peak('0');
  const tenPercent = peak('10');
  assert.ok(tenPercent < v8Choice * 0.85, `peak heap ${(tenPercent / 1e6).toFixed(0)} MB with 10% vs ${(v8Choice / 1e6).toFixed(0)} MB with V8's choice`);
});
