/**
 * The prometheus plugin's process metrics: prom-client's default set without
 * nodejs_gc_duration_seconds (src/plugins/prometheus/metrics.ts says why), scraped from the real CLI.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { DEFAULT_METRIC_MODULES } from '../src/plugins/prometheus/metrics.js';
import { freePort } from './support/ports.js';
import { startServer } from './support/server-process.js';

const require = createRequire(import.meta.url);

test('the module list is prom-client\'s default metrics minus gc', () => {
  const list = (require('prom-client/lib/defaultMetrics.js') as { metricsList: string[] }).metricsList;
  const expected = list.filter((m) => m !== 'gc');
  if (typeof process.getActiveResourcesInfo !== 'function') expected.push('processResources'); // listed only where Node has it
  assert.deepEqual([...DEFAULT_METRIC_MODULES].sort(), [...new Set(expected)].sort());
});

test('/metrics has CoreDNS\'s process metrics and prom-client\'s default nodejs_* ones, but no GC histogram', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const server = await startServer(`.:${port} {\n    prometheus 127.0.0.1:${metricsPort}\n    hosts {\n        192.0.2.7 web.example.\n    }\n}\n`);
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const names = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
    for (const m of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_open_fds',
      'process_max_fds', 'process_start_time_seconds', 'coredns_build_info']) assert.ok(names.has(m), m);
    for (const mod of DEFAULT_METRIC_MODULES) {
      if (mod === 'processResources' && typeof process.getActiveResourcesInfo !== 'function') continue;
      const metricNames = (require(`prom-client/lib/metrics/${mod}.js`) as { metricNames: string[] }).metricNames;
      for (const m of metricNames) assert.ok(names.has(m), `${m} (prom-client ${mod})`);
    }
    assert.ok(!names.has('nodejs_gc_duration_seconds'));
    assert.match(text, /^process_resident_memory_bytes [1-9]\d+/m);
  } finally {
    await server.stop();
  }
});
