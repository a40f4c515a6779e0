/**
 * The real CLI pages out its start-up code once it is ready (src/server/page-out.ts), and still
 * answers afterwards: run from a node binary only it maps, as in its Pod.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { RRType } from '../src/dns/constants.js';
import { rssFileKb } from '../src/server/page-out.js';
import { skipWithoutAddon } from '../src/server/testing.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { privateNodeCopy } from './support/private-node.js';
import { startServer } from './support/server-process.js';

const skip = skipWithoutAddon();
const rssFileMb = (pid: number): number => rssFileKb(fs.readFileSync(`/proc/${pid}/status`, 'utf8')) / 1024;

test('once ready, the server drops the file pages start-up read, and answers as before', { skip }, async () => {
  const copy = privateNodeCopy();
  const port = await freePort();
  const server = await startServer(`.:${port} {\n    hosts {\n        192.0.2.7 web.example.\n    }\n}\n`, { node: copy.node, env: { CLUSTERDNS_LOG_LEVEL: 'debug' } });
  try {
    const [line] = await server.waitFor(/paged out start-up code: file-backed RSS (\d+) → (\d+) MB/, 10_000);
    const [, before, after] = /RSS (\d+) → (\d+) MB/.exec(line)!;
    assert.ok(Number(before) - Number(after) >= 15, line);
    const m = await query(port, 'web.example.', RRType.A);
    assert.deepEqual(m.answers.map((a) => ('address' in a ? a.address : '?')), ['192.0.2.7']);
    // Serving brings back only the pages it uses (~10-15 MB here; ~42 MB before the page-out).
    assert.ok(rssFileMb(server.proc.pid!) < 30, `file-backed RSS ${rssFileMb(server.proc.pid!).toFixed(1)} MB`);
  } finally {
    await server.stop();
    copy.remove();
  }
});
