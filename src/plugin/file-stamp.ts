import fs from 'node:fs';

/** What changes when a file is rewritten or replaced (mtime, size, inode): plugins poll it to reload. */
export function fileStamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}
