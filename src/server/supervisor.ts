/**
 * The process: loads the Corefile, owns the DNS listeners and shared HTTP listeners across config
 * generations, reloads without dropping queries, and shuts down gracefully (lameduck) on SIGTERM.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { parseCorefile } from '../corefile/parser.js';
import { ClusterDnsError, ErrorCodes } from '../errors.js';
import type { Lifecycle, PluginSetup, ProcessServices } from '../plugin/types.js';
import { Rcode } from '../dns/constants.js';
import { emptyHeader, replyTo } from '../dns/message.js';
import { explain } from '../explain/explain.js';
import { Generation } from './generation.js';
import { SharedHttp, type HttpPublisher } from './http-registry.js';
import { PortListener } from './listener.js';
import { reloadFailedTotal } from './metrics.js';
import type { TcpLimits } from './tcp.js';

export interface SupervisorOptions {
  corefilePath: string;
  defaultPort: number;
  plugins: ReadonlyMap<string, PluginSetup>;
  logger: Logger;
  quiet: boolean;
  /** Hosts to bind DNS on (default: the IPv4 and IPv6 wildcards). */
  hosts?: string[];
  tcpLimits?: TcpLimits;
  /** Printed at start unless quiet (CoreDNS prints the server keys then its version). */
  print?: (line: string) => void;
  /** Worker mode (-workers N): HTTP addresses are published to the primary (see workers.ts). */
  httpPublisher?: HttpPublisher;
}

/**
 * At shutdown, after lameduck: how long the listeners may take to answer what they had received (a
 * forwarded query may take up to forward's 5 s deadline) and for TCP clients to go away.
 */
const DRAIN_MS = 5500;

/** In-flight queries on a retired config get this long to finish before its plugins stop. */
const RETIRE_GRACE_MS = 5000;

/**
 * A reloaded config takes over once its plugins report ready (kubernetes: first list synced) — the
 * old one keeps answering meanwhile — or after this long anyway, as CoreDNS's kubernetes plugin
 * stops waiting for its first sync after 5 s.
 */
const READY_WAIT_MS = 5000;

export class Supervisor {
  readonly http: SharedHttp;
  private readonly listeners = new Map<number, PortListener>();
  private generation: Generation | undefined;
  private corefileText = '';
  private reloading: Promise<boolean> | undefined;
  private readonly lameducks = new Set<{ ms: number }>();
  private shutting = false;
  private readonly services: ProcessServices;

  constructor(private readonly opts: SupervisorOptions) {
    this.http = new SharedHttp(opts.logger, opts.httpPublisher);
    const isShuttingDown = (): boolean => this.shutting;
    const lifecycle: Lifecycle = {
      setLameduck: (ms) => {
        const entry = { ms };
        this.lameducks.add(entry);
        return () => this.lameducks.delete(entry);
      },
      get shuttingDown() {
        return isShuttingDown();
      },
    };
    this.services = {
      http: this.http,
      lifecycle,
      quiet: opts.quiet,
      notReady: () => (this.generation ? this.generation.notReady() : ['server']),
      reload: () => this.reload(),
      resolve: (port, name, type, parent) => {
        const d = this.generation?.dispatchers.get(port);
        if (!d) return Promise.resolve(replyTo({ ...emptyHeader(0), questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] }, Rcode.SERVFAIL));
        return d.resolveInternal(name, type, parent.origin);
      },
      explain: (port, name, type) => {
        const d = this.generation?.dispatchers.get(port);
        if (!d) return Promise.reject(new Error(`no server on port ${port}`));
        return explain(d, name, type);
      },
    };
  }

  /** What the serving configuration still waits for (empty: ready), as /ready reports it. */
  notReady(): string[] {
    return this.services.notReady();
  }

  /** Port actually bound for a configured port (tests configure port 0). */
  boundPort(configured: number): number | undefined {
    return this.listeners.get(configured)?.port;
  }

  get lameduckMs(): number {
    let ms = 0;
    for (const e of this.lameducks) ms = Math.max(ms, e.ms);
    return ms;
  }

  async start(): Promise<void> {
    const g = await this.build();
    await g.start();
    try {
      await this.openListeners(g);
    } catch (err) {
      await g.stop();
      await this.closeListeners();
      throw err;
    }
    this.generation = g;
    this.announce(g);
    await g.afterListen();
  }

  /** Reads and applies the Corefile again. Serialised: a reload requested during a reload waits for it. */
  reload(): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      if (this.shutting) return false;
      let next: Generation | undefined;
      try {
        next = await this.build();
        await next.start();
        await this.untilReady(next);
        if (this.shutting) {
          await next.stop();
          return false;
        }
        await this.openListeners(next);
      } catch (err) {
        await next?.stop();
        reloadFailedTotal.inc();
        this.opts.logger.error({ err: describe(err) }, `plugin/reload: Corefile changed but reload failed: ${describe(err).message}`);
        return false;
      }
      const old = this.generation;
      for (const [port, d] of next.dispatchers) this.listeners.get(port)!.swap(d);
      this.generation = next;
      for (const [port, l] of [...this.listeners]) {
        if (!next.dispatchers.has(port)) {
          this.listeners.delete(port);
          void l.close();
        }
      }
      this.opts.logger.info('plugin/reload: running configuration reloaded');
      this.announce(next);
      if (old) setTimeout(() => void old.stop(), RETIRE_GRACE_MS).unref();
      await next.afterListen();
      return true;
    };
    const p = (this.reloading ?? Promise.resolve(true)).then(run, run);
    this.reloading = p;
    return p;
  }

  private async untilReady(g: Generation): Promise<void> {
    const deadline = Date.now() + READY_WAIT_MS;
    while (g.notReady().length > 0 && !this.shutting) {
      if (Date.now() >= deadline) {
        this.opts.logger.warn(`plugin/reload: new configuration still not ready after ${READY_WAIT_MS / 1000}s (${g.notReady().join(', ')}): switching to it anyway`);
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM: keep answering for the lameduck time (/ready turns 503 meanwhile), then close everything. */
  async shutdown(): Promise<void> {
    if (this.shutting) return;
    this.shutting = true;
    const ms = this.lameduckMs;
    if (ms > 0) {
      this.opts.logger.info(`plugin/health: Going into lameduck mode for ${ms / 1000}s`);
      await new Promise((r) => setTimeout(r, ms));
    }
    // Every query that reached a listener before it closed is answered before the plugins stop.
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.drain(DRAIN_MS)));
    await this.generation?.stop();
    await this.http.closeAll();
  }

  private async build(): Promise<Generation> {
    const file = this.opts.corefilePath;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ClusterDnsError(ErrorCodes.COREFILE_IO, `${file}: ${(err as NodeJS.ErrnoException).code ?? ''} cannot read the Corefile`, { cause: err });
    }
    const corefile = parseCorefile(text, file, { defaultPort: this.opts.defaultPort, onWarning: (w) => this.opts.logger.warn(`${w.file}:${w.line} - ${w.message}`) });
    const g = await Generation.build({
      corefile,
      corefileText: text,
      defaultPort: this.opts.defaultPort,
      plugins: this.opts.plugins,
      process: this.services,
      logger: this.opts.logger,
    });
    this.corefileText = text;
    return g;
  }

  get currentCorefileText(): string {
    return this.corefileText;
  }

  private async openListeners(g: Generation): Promise<void> {
    const opened: number[] = [];
    try {
      for (const [port, d] of g.dispatchers) {
        if (this.listeners.has(port)) continue;
        const l = await PortListener.open(d, { port, logger: this.opts.logger, ...(this.opts.hosts ? { hosts: this.opts.hosts } : {}), ...(this.opts.tcpLimits ? { tcpLimits: this.opts.tcpLimits } : {}) });
        this.listeners.set(port, l);
        opened.push(port);
      }
    } catch (err) {
      for (const port of opened) {
        await this.listeners.get(port)?.close();
        this.listeners.delete(port);
      }
      throw err;
    }
  }

  private async closeListeners(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.close()));
  }

  private announce(g: Generation): void {
    if (this.opts.quiet || !this.opts.print) return;
    for (const { zone, port } of g.serverKeys) this.opts.print(`${zone}:${this.listeners.get(port)?.port ?? port}`);
  }
}

function describe(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
