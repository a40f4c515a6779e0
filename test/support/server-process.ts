/**
 * Starts the real server (dist/cli.js, built by `npm test` before the tests run) on a Corefile
 * written to a temp dir, and waits until it announced its listeners.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
export const CLI = path.join(root, 'dist', 'cli.js');

export interface ServerProcess {
  proc: ChildProcess;
  dir: string;
  corefile: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stdout+stderr match; rejects after timeoutMs. */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  /** Extra files to write beside the Corefile (name → content). */
  files?: Record<string, string>;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Resolve as soon as the process starts, without waiting for the banner. */
  noWait?: boolean;
  timeoutMs?: number;
  /** The node binary to run (default: the one running the tests). */
  node?: string;
}

export async function startServer(corefileText: string, opts: StartOptions = {}): Promise<ServerProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-test-'));
  const corefile = path.join(dir, 'Corefile');
  fs.writeFileSync(corefile, corefileText);
  for (const [name, content] of Object.entries(opts.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
  const proc = spawn(opts.node ?? process.execPath, [CLI, '-conf', corefile, ...(opts.args ?? [])], {
    cwd: dir,
    // The servers under test always log at info: tests assert on their log lines.
    env: { ...process.env, CLUSTERDNS_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  const wake = (): void => waiters.splice(0).forEach((w) => w());
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); wake(); });
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); wake(); });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => { wake(); resolve(code); }));

  const waitFor = (re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${re}\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
      const check = (): void => {
        const m = (out + err).match(re);
        if (m) {
          clearTimeout(deadline);
          resolve(m);
        } else if (proc.exitCode !== null) {
          clearTimeout(deadline);
          reject(new Error(`server exited (${proc.exitCode}) before ${re}\nstdout:\n${out}\nstderr:\n${err}`));
        } else waiters.push(check);
      };
      check();
    });

  const sp: ServerProcess = {
    proc, dir, corefile, exited, waitFor,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  if (!opts.noWait) await waitFor(/clusterdns-\d+\.\d+\.\d+/, opts.timeoutMs ?? 15_000);
  return sp;
}
