/**
 * A copy of the running node binary that no other process maps, in a fresh temp dir, owned by
 * whoever runs the tests. As in a Pod, where the server is the only process mapping its node:
 * Linux pages out (MADV_PAGEOUT) only pages no other process maps, and only for the file's owner,
 * so a server spawned from process.execPath shares nearly every page with the test runner.
 * Not on tmpfs: its pages are shared memory, which a page-out can only swap.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const TMPFS_MAGIC = 0x01021994;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export function privateNodeCopy(): { node: string; remove(): void } {
  const base = fs.statfsSync(os.tmpdir()).type === TMPFS_MAGIC ? path.join(root, 'node_modules', '.cache') : os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dir = fs.mkdtempSync(path.join(base, 'clusterdns-node-'));
  const node = path.join(dir, 'node');
  fs.copyFileSync(process.execPath, node);
  fs.chmodSync(node, 0o755);
  return { node, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
