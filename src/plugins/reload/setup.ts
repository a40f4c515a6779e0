/**
 * reload (CoreDNS plugin/reload): every INTERVAL (± JITTER/2) read the Corefile, parse it, and when
 * the SHA-512 of the parsed server blocks differs from the running configuration's, ask the process
 * to reload. The process keeps the old configuration serving when the new one fails (and counts
 * coredns_reload_failed_total); a broken file is not retried until it changes again.
 *
 * Like CoreDNS ≥ 1.7 the hash is taken over the parsed Corefile (with imports expanded, and each
 * directive's file and line), so editing an imported file reloads, and editing only a comment does
 * not. A Corefile that does not even parse is logged as a warning on every check, as CoreDNS does.
 *
 * One poller runs per process: the one of the configuration that serves. A reload hands over to
 * the new configuration's poller; a configuration without `reload` stops polling.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import { parseCorefile } from '../../corefile/parser.js';
import type { Corefile, Directive } from '../../corefile/types.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup, ProcessServices } from '../../plugin/types.js';
import { reloadInfo } from './metrics.js';

const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_JITTER_MS = 15_000;
const MIN_INTERVAL_MS = 2_000;
const MIN_JITTER_MS = 1_000;

/** `reload [INTERVAL] [JITTER]` */
export const reload: PluginSetup = {
  name: 'reload',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('reload', directives), 'reload');
    r.noBlock();
    const [intervalArg, jitterArg] = r.args(0, 2);
    const interval = intervalArg === undefined ? DEFAULT_INTERVAL_MS : r.duration(intervalArg, { allowNegative: true });
    if (interval < MIN_INTERVAL_MS) throw r.error('interval value must be greater or equal to 2s');
    let jitter = jitterArg === undefined ? DEFAULT_JITTER_MS : r.duration(jitterArg, { allowNegative: true });
    if (jitter !== 0 && jitter < MIN_JITTER_MS) throw r.error('jitter value must be 0 or greater or equal to 1s');
    // CoreDNS caps the jitter at half the interval rather than refusing it.
    if (jitter > interval / 2) jitter = interval / 2;
    const periodMs = jitter > 0 ? interval + Math.floor(Math.random() * jitter) - jitter / 2 : interval;
    const poller = new CorefilePoller(ctx.corefile, ctx.corefileText, periodMs, ctx.process, ctx.logger);
    return {
      afterListen: async () => poller.start(),
      stop: async () => poller.stop(),
    };
  },
};

/**
 * Parses as the supervisor will, except for the duplicate-key check between keys with and without
 * a port, which depends on -dns.port (unknown here): port 0 never equals a written port, so only
 * the supervisor decides those (and counts the failure).
 */
function parse(text: string, file: string): Corefile {
  return parseCorefile(text, file, { defaultPort: 0, onWarning: () => {} });
}

/** The poller of the serving configuration, per process. */
const owners = new WeakMap<ProcessServices, CorefilePoller>();

export class CorefilePoller {
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private hash = '';

  constructor(
    private readonly file: string,
    private readonly runningText: string,
    readonly periodMs: number,
    private readonly process: ProcessServices,
    private readonly logger: Logger,
  ) {}

  start(): void {
    owners.get(this.process)?.halt();
    owners.set(this.process, this);
    try {
      this.hash = corefileHash(parse(this.runningText, this.file));
    } catch {
      // It parsed when this configuration was built; an import that has gone since only means the next check reloads.
      this.hash = '';
    }
    this.logger.info(`plugin/reload: Running configuration SHA512 = ${this.hash}`);
    this.active = true;
    this.schedule();
  }

  stop(): void {
    this.halt();
    if (owners.get(this.process) === this) owners.delete(this.process);
  }

  private halt(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (!this.active) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check().finally(() => this.schedule());
    }, this.periodMs);
    this.timer.unref();
  }

  /** One check; exported behaviour is only through its effects (reload, metric, log). */
  async check(): Promise<void> {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return; // CoreDNS: a Corefile that cannot be loaded is skipped silently until the next check
    }
    let hash: string;
    try {
      hash = corefileHash(parse(text, this.file));
    } catch (err) {
      this.logger.warn(`plugin/reload: Corefile parse failed: ${(err as Error).message}`);
      return;
    }
    if (hash === this.hash || !this.active) return;
    reloadInfo.remove({ hash: 'sha512', value: this.hash });
    // Do not try the same file again, even if it fails.
    this.hash = hash;
    if (this.process.lifecycle.shuttingDown) {
      this.halt();
      return;
    }
    let ok = false;
    try {
      ok = await this.process.reload(); // logs and counts a failure itself
    } catch (err) {
      this.logger.error({ err }, `plugin/reload: Corefile changed but reload failed: ${(err as Error).message}`);
    }
    reloadInfo.set({ hash: 'sha512', value: hash }, 1);
    // The new configuration's own poller (if it has `reload`) carries on from here.
    if (ok) this.halt();
  }
}

/** SHA-512 (hex) of the parsed server blocks: keys, and every directive with its file and line. */
export function corefileHash(c: Corefile): string {
  const dir = (d: Directive): unknown => ({ f: d.file, l: d.line, n: d.name, a: d.args, b: d.block?.map(dir) ?? null });
  const canonical = c.blocks.map((b) => ({ k: b.keys, d: b.directives.map(dir) }));
  return createHash('sha512').update(JSON.stringify(canonical)).digest('hex');
}
