import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { bindCounter, bindHistogram } from './bound.js';

function twins(): { reg: Registry; stock: Registry; c: [Counter<'zone' | 'type'>, Counter<'zone' | 'type'>]; h: [Histogram<'zone'>, Histogram<'zone'>] } {
  const reg = new Registry();
  const stock = new Registry();
  const counter = (r: Registry): Counter<'zone' | 'type'> => new Counter({ name: 't_requests_total', help: 'h', labelNames: ['zone', 'type'] as const, registers: [r] });
  const histogram = (r: Registry): Histogram<'zone'> =>
    new Histogram({ name: 't_duration_seconds', help: 'h', labelNames: ['zone'] as const, buckets: Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i), registers: [r] });
  return { reg, stock, c: [counter(reg), counter(stock)], h: [histogram(reg), histogram(stock)] };
}

describe('metrics/bound', () => {
  it('exposes exactly what inc()/observe() with labels expose', async () => {
    const { reg, stock, c, h } = twins();
    const a = bindCounter(c[0], { zone: 'cluster.local.', type: 'A' });
    const srv = bindCounter(c[0], { zone: 'cluster.local.', type: 'SRV' });
    const d = bindHistogram(h[0], { zone: 'cluster.local.' });
    const values = [0, 0.0001, 0.00025, 0.0003, 0.004, 1, 7.9, 8.192, 10, 1e9];
    for (let i = 0; i < 1000; i++) {
      a.inc();
      c[1].inc({ zone: 'cluster.local.', type: 'A' });
      if (i % 3 === 0) {
        srv.inc(2);
        c[1].inc({ zone: 'cluster.local.', type: 'SRV' }, 2);
      }
      const v = values[i % values.length]!;
      d.observe(v);
      h[1].observe({ zone: 'cluster.local.' }, v);
    }
    assert.equal(await reg.metrics(), await stock.metrics());
  });

  it('shares the series with plain updates made before and after binding', async () => {
    const { reg, stock, c, h } = twins();
    c[0].inc({ zone: 'z.', type: 'A' }, 5);
    h[0].observe({ zone: 'z.' }, 0.5);
    const a = bindCounter(c[0], { zone: 'z.', type: 'A' });
    const d = bindHistogram(h[0], { zone: 'z.' });
    a.inc();
    d.observe(0.001);
    c[0].inc({ zone: 'z.', type: 'A' });
    c[1].inc({ zone: 'z.', type: 'A' }, 7);
    h[1].observe({ zone: 'z.' }, 0.5);
    h[1].observe({ zone: 'z.' }, 0.001);
    assert.equal(await reg.metrics(), await stock.metrics());
  });

  it('binds again after the registry is reset', async () => {
    const { reg, c, h } = twins();
    const a = bindCounter(c[0], { zone: 'z.', type: 'A' });
    const d = bindHistogram(h[0], { zone: 'z.' });
    a.inc();
    d.observe(1);
    reg.resetMetrics();
    a.inc();
    d.observe(2);
    const counted = (await c[0].get()).values.find((v) => v.labels.type === 'A');
    assert.equal(counted?.value, 1);
    const sum = (await h[0].get()).values.find((v) => v.metricName === 't_duration_seconds_sum');
    assert.equal(sum?.value, 2);
  });

  it('rejects what observe() rejects', () => {
    const { h } = twins();
    assert.throws(() => bindHistogram(h[0], { zone: 'z.' }).observe(Number.NaN), TypeError);
  });
});
