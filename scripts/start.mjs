#!/usr/bin/env node
// `npm start`: build when dist/ is missing or older than src/, then serve Corefile.example.
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}
const cli = path.join(root, 'dist', 'cli.js');
if (!fs.existsSync(cli) || fs.statSync(cli).mtimeMs < newest(path.join(root, 'src'))) {
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const args = process.argv.slice(2);
const child = spawn(process.execPath, [cli, '-conf', path.join(root, 'Corefile.example'), ...args], { cwd: root, stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
