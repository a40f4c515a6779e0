#!/usr/bin/env node
// Builds the native addon (native/udp_batch.c, batched UDP, native/malloc_trim.c and native/page_out.c →
// build/Release/udp_batch.node) with node-gyp.
// Run by `npm ci` (package.json "install"; an explicit install script also stops npm's implicit
// `node-gyp rebuild`) and by `npm run build`. It never fails the install: without a compiler, on
// another OS, or without Node's headers it prints one warning and exits 0, and the server then
// serves UDP through Node's dgram (slower; see README, CLUSTERDNS_UDP_BATCH).
//
// node-gyp: npm's bundled copy (npm passes its path to scripts as npm_config_node_gyp; `npx
// node-gyp` would fetch another one from the registry). Headers: --nodedir is the prefix of the
// running node (process.execPath/..), which has include/node/node_api.h in Node's release
// tarballs, Debian's nodejs and the official images; without it node-gyp would download headers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const output = path.join(root, 'build', 'Release', 'udp_batch.node');
const inputs = ['native/udp_batch.c', 'native/malloc_trim.c', 'native/page_out.c', 'binding.gyp', 'scripts/build-native.mjs'].map((f) => path.join(root, f));

function skip(reason, details = '') {
  process.stderr.write(`warning: clusterdns: native UDP batching not built: ${reason}. ` +
    'The server will serve UDP through Node\'s dgram (slower). ' +
    `To build it: install python3, make and a C compiler (g++), then \`npm run build\`.\n${details}`);
  process.exit(0);
}

function mtime(f) {
  try {
    return fs.statSync(f).mtimeMs;
  } catch {
    return 0;
  }
}

if (process.platform !== 'linux') skip(`recvmmsg/sendmmsg are Linux only (this is ${process.platform})`);
// Up to date: npm test and npm run bench build every time; the compile takes a few seconds.
if (mtime(output) > Math.max(...inputs.map(mtime)) && loads()) process.exit(0);

const nodedir = path.resolve(path.dirname(process.execPath), '..');
if (!fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  skip(`Node's headers are not in ${nodedir}/include/node (a node without its headers)`);
}
const gyp = findNodeGyp();
if (!gyp) skip('node-gyp not found (npm ships it; run this through `npm ci` or `npm run build`)');

const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: root,
  encoding: 'utf8',
  timeout: 300_000,
});
if (r.error || r.status !== 0) {
  // The compiler's or make's own lines say why; node-gyp's stack and environment lines do not.
  const why = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')
    .filter((l) => l.trim() !== '' && !/^gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l))
    .slice(-6);
  skip(`node-gyp failed (${r.error?.message ?? `exit ${r.status}`})`, why.map((l) => `  ${l}\n`).join(''));
}
if (!loads()) skip(`${path.relative(root, output)} was built but does not load`);
process.stdout.write(`clusterdns: built ${path.relative(root, output)}\n`);

/** The addon loads in this node and is the ABI version its source declares (src/server/udp-batch.ts checks the same). */
function loads() {
  try {
    const abi = Number(/#define ABI_VERSION (\d+)/.exec(fs.readFileSync(path.join(root, 'native', 'udp_batch.c'), 'utf8'))?.[1]);
    return createRequire(import.meta.url)(output).abi === abi;
  } catch {
    return false;
  }
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    // npm's bundled copy next to the npm that runs us, or next to this node.
    process.env.npm_execpath && path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(nodedir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && c.endsWith('.js') && fs.existsSync(c));
}
