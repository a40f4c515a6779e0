/**
 * The prometheus plugin's process metrics: prom-client's default set without
 * nodejs_gc_duration_seconds (src/plugins/prometheus/metrics.ts says why), scraped from the real CLI.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { defaultMetricModules } from '../src/plugins/prometheus/metrics.js';
import { freePort } from './support/ports.js';
import { startServer } from './support/server-process.js';

const require = createRequire(import.meta.url);

test('/metrics has CoreDNS\'s process metrics and prom-client\'s default nodejs_* ones, but no GC histogram', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const server = await startServer(`.:${port} {\n    prometheus 127.0.0.1:${metricsPort}\n    hosts {\n        192.0.2.7 web.example.\n    }\n}\n`);
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const names = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
    for (const m of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_open_fds',
      'process_max_fds', 'process_start_time_seconds', 'coredns_build_info']) assert.ok(names.has(m), m);
    const modules = defaultMetricModules();
    assert.ok(modules.length >= 10 && !modules.includes('gc'), modules.join(', '));
    for (const mod of modules) {
      const metricNames = (require(`prom-client/lib/metrics/${mod}.js`) as { metricNames: string[] }).metricNames;
      for (const m of metricNames) assert.ok(names.has(m), `${m} (prom-client ${mod})`);
    }
    const gcNames = (require('prom-client/lib/metrics/gc.js') as { metricNames: string[] }).metricNames;
    assert.deepEqual(gcNames, ['nodejs_gc_duration_seconds']);
    assert.ok(!names.has('nodejs_gc_duration_seconds'));
    assert.match(text, /^process_resident_memory_bytes [1-9]\d+/m);
  } finally {
    await server.stop();
  }
});
