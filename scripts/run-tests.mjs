#!/usr/bin/env node
// Runs every test file (unit tests beside the sources, integration tests in test/) with node:test
// under tsx. Node 20's --test takes no globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring...]   (only files whose path contains one of them)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const filters = process.argv.slice(2);
function find(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules') find(p, out); }
    else if (e.name.endsWith('.test.ts')) out.push(path.relative(root, p));
  }
  return out;
}
const files = [...find(path.join(root, 'src')), ...find(path.join(root, 'test'))]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = String(Math.max(2, Number(process.env.TEST_CONCURRENCY ?? 2)));
// --test-timeout bounds any single test. (--test-force-exit is not used: on Node 20 it was seen to
// end a file before all of its tests had reported, silently dropping them from the run.)
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
