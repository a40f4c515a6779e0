/**
 * `-workers N`: one primary process and N worker processes (node:cluster) serving the same ports.
 *
 * Each worker is a complete server: it reads the Corefile, runs every plugin and keeps its own
 * watch and record store (so the API server sees N watches, and memory is N × one server). The DNS
 * sockets are shared: node:cluster hands every worker the same UDP socket and TCP listening socket
 * (scheduling "none"), and the kernel gives each datagram or connection to one of them. Why: one
 * Node process answers from one core; on the 2-vCPU bench VM, where dnsperf needs most of the
 * other core, 2 workers answered 1.4–1.7× the queries per second of 1 (bench/README.md).
 *
 * The primary runs no plugin and answers no query. It
 *   - forks the workers and restarts one that dies (1 s backoff doubling to 30 s; reset after a
 *     worker has run for a minute); a worker failing before its first start is fatal at startup;
 *   - forwards SIGTERM/SIGINT (then waits for every worker's lameduck and exit) and SIGUSR1
 *     (every worker reloads its Corefile, as the reload plugin does in each of them anyway);
 *   - owns the HTTP addresses of health, ready, prometheus (and explain). A worker binds each
 *     address on a private loopback port and publishes its paths to the primary, which listens on
 *     the real address and answers:
 *       /ready    200 only when every worker answers 200 (503 with their reasons otherwise, and
 *                 while fewer than N workers are up);
 *       /health   200 when any worker answers 200 (one restarting worker does not fail liveness);
 *       /metrics  the workers' registries summed by prom-client's AggregatorRegistry (counters and
 *                 histograms add up; gauges as their `aggregator` says);
 *       others    proxied to one worker, round robin.
 *   - prints the startup lines once (the workers' zone:port lines, then the banner).
 */
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { ClusterDnsError, ErrorCodes } from '../errors.js';
import { parseHttpAddress, type HttpPublisher } from './http-registry.js';

/** Messages between the primary and its workers (the `clusterdns` field tells them from prom-client's). */
type ToPrimary =
  | { clusterdns: 'started'; lines: string[] }
  | { clusterdns: 'publish'; id: number; addr: string; path: string; port: number }
  | { clusterdns: 'unpublish'; addr: string; path: string; port: number };
type ToWorker = { clusterdns: 'published'; id: number; error?: string };

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker that has run this long has its restart backoff reset. */
const HEALTHY_RUN_MS = 60_000;
/** How long the primary waits for a proxied HTTP answer from a worker. */
const PROXY_TIMEOUT_MS = 3000;

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  quiet: boolean;
  /** The banner printed after the workers' zone:port lines (unless quiet). */
  banner: string;
  print(text: string): void;
  /** Longest a worker may take to exit after SIGTERM (its lameduck included) before SIGKILL. */
  stopTimeoutMs?: number;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  started: boolean;
  startedAt: number;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
}

interface Front {
  addr: string;
  server: http.Server;
  /** path → worker slot → private port */
  paths: Map<string, Map<number, number>>;
  next: number;
}

/** Runs the primary until it has shut down; resolves with the process exit code. */
export function runPrimary(o: PrimaryOptions): Promise<number> {
  return new Promise<number>((resolveExit) => {
    const log = o.logger.child({ role: 'primary' });
    const slots: Slot[] = Array.from({ length: o.workers }, (_, index) => ({ index, worker: undefined, started: false, startedAt: 0, failures: 0, restartTimer: undefined }));
    const fronts = new Map<string, Front>();
    const binding = new Map<string, Promise<Front>>();
    const aggregator = new AggregatorRegistry();
    let booting = true;
    let shutting = false;
    let exitCode = 0;

    // The DNS sockets are shared as they are (kernel distribution), not accepted by the primary.
    cluster.schedulingPolicy = cluster.SCHED_NONE;

    const fork = (slot: Slot): void => {
      slot.restartTimer = undefined;
      slot.started = false;
      const w = cluster.fork({ CLUSTERDNS_WORKER: String(slot.index) });
      slot.worker = w;
      w.on('message', (m: ToPrimary) => onMessage(slot, w, m));
      w.on('exit', (code, signal) => onExit(slot, w, code, signal));
    };

    const onMessage = (slot: Slot, w: Worker, m: ToPrimary): void => {
      if (typeof m !== 'object' || m === null || !('clusterdns' in m)) return;
      switch (m.clusterdns) {
        case 'started':
          slot.started = true;
          slot.startedAt = Date.now();
          log.info({ worker: slot.index, pid: w.process.pid }, `worker ${slot.index} started`);
          if (booting && slots.every((s) => s.started)) {
            booting = false;
            if (!o.quiet) o.print(m.lines.map((l) => `${l}\n`).join('') + o.banner);
          }
          return;
        case 'publish':
          publish(slot, m.addr, m.path, m.port).then(
            () => w.send({ clusterdns: 'published', id: m.id } satisfies ToWorker),
            (err: Error) => w.send({ clusterdns: 'published', id: m.id, error: err.message } satisfies ToWorker),
          );
          return;
        case 'unpublish':
          unpublish(slot, m.addr, m.path, m.port);
          return;
      }
    };

    const onExit = (slot: Slot, w: Worker, code: number | null, signal: string | null): void => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      for (const f of fronts.values()) for (const ports of f.paths.values()) ports.delete(slot.index);
      if (shutting) {
        if (code !== 0) exitCode = 1;
        if (slots.every((s) => !s.worker)) void finish();
        return;
      }
      if (booting && !slot.started) {
        // The Corefile or a port is wrong: the worker printed why. Do not retry forever.
        log.error({ worker: slot.index, code, signal }, `worker ${slot.index} failed to start`);
        exitCode = 1;
        void shutdown();
        return;
      }
      if (slot.started && Date.now() - slot.startedAt >= HEALTHY_RUN_MS) slot.failures = 0;
      const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** slot.failures);
      slot.failures++;
      log.error({ worker: slot.index, code, signal, restartInMs: delay }, `worker ${slot.index} exited; restarting`);
      slot.restartTimer = setTimeout(() => fork(slot), delay);
    };

    // ---- HTTP fronts ----

    const publish = async (slot: Slot, addr: string, path: string, port: number): Promise<void> => {
      const f = await front(addr);
      let ports = f.paths.get(path);
      if (!ports) {
        ports = new Map();
        f.paths.set(path, ports);
      }
      ports.set(slot.index, port);
    };

    const unpublish = (slot: Slot, addr: string, path: string, port: number): void => {
      const f = fronts.get(addr);
      const ports = f?.paths.get(path);
      if (!f || !ports || ports.get(slot.index) !== port) return;
      ports.delete(slot.index);
      if (ports.size === 0) f.paths.delete(path);
      if (f.paths.size === 0) {
        fronts.delete(addr);
        f.server.close();
        f.server.closeAllConnections();
      }
    };

    const front = (addr: string): Promise<Front> => {
      const existing = fronts.get(addr);
      if (existing) return Promise.resolve(existing);
      let p = binding.get(addr);
      if (!p) {
        p = bindFront(addr).finally(() => binding.delete(addr));
        binding.set(addr, p);
      }
      return p;
    };

    const bindFront = async (addr: string): Promise<Front> => {
      const { host, port } = parseHttpAddress(addr);
      const f: Front = { addr, server: http.createServer((req, res) => serve(f, req, res)), paths: new Map(), next: 0 };
      f.server.keepAliveTimeout = 5000;
      f.server.headersTimeout = 5000;
      f.server.requestTimeout = 10000;
      await new Promise<void>((resolve, reject) => {
        f.server.once('error', (err) =>
          reject(new ClusterDnsError(ErrorCodes.BIND_FAILED, `listen tcp ${addr}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })),
        );
        f.server.listen(port, host, () => resolve());
      });
      fronts.set(addr, f);
      return f;
    };

    const serve = (f: Front, req: http.IncomingMessage, res: http.ServerResponse): void => {
      const url = req.url ?? '/';
      const path = url.split('?')[0] ?? '/';
      const ports = [...(f.paths.get(path) ?? new Map<number, number>()).values()];
      if (ports.length === 0) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      const text = (status: number, body: string): void => {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
      };
      if (path === '/ready') {
        void Promise.all(ports.map((p) => ask(p, url))).then((answers) => {
          const bad = answers.find((a) => a.status !== 200);
          if (bad) text(bad.status === 0 ? 503 : bad.status, bad.body);
          else if (ports.length < o.workers) text(503, `workers: ${ports.length} of ${o.workers} up`);
          else text(200, answers[0]!.body);
        });
      } else if (path === '/health') {
        void Promise.all(ports.map((p) => ask(p, url))).then((answers) => {
          const good = answers.find((a) => a.status === 200);
          const a = good ?? answers[0]!;
          text(a.status === 0 ? 503 : a.status, a.body);
        });
      } else if (path === '/metrics') {
        aggregator.clusterMetrics().then(
          (body) => res.writeHead(200, { 'content-type': aggregator.contentType }).end(body),
          (err: Error) => text(500, `aggregating the workers' metrics failed: ${err.message}\n`),
        );
      } else {
        const p = ports[f.next++ % ports.length]!;
        proxy(p, req, res);
      }
    };

    // ---- signals and shutdown ----

    const finish = async (): Promise<void> => {
      await Promise.all([...fronts.values()].map((f) => new Promise<void>((r) => {
        f.server.close(() => r());
        f.server.closeAllConnections();
      })));
      fronts.clear();
      o.logger.flush();
      resolveExit(exitCode);
    };

    const shutdown = async (signal?: string): Promise<void> => {
      if (shutting) return;
      shutting = true;
      if (signal) log.info({ signal }, `[INFO] ${signal}: Shutting down`);
      for (const s of slots) clearTimeout(s.restartTimer);
      const live = slots.map((s) => s.worker).filter((w): w is Worker => w !== undefined);
      if (live.length === 0) return finish();
      for (const w of live) w.process.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const w of live) if (!w.isDead()) w.process.kill('SIGKILL');
      }, o.stopTimeoutMs ?? 60_000);
      timer.unref();
    };

    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGUSR1', () => {
      for (const s of slots) s.worker?.process.kill('SIGUSR1');
    });

    for (const s of slots) fork(s);
  });
}

/** GET url from a worker's private port: status 0 when it did not answer in time. */
function ask(port: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: url, timeout: PROXY_TIMEOUT_MS, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => resolve({ status: 0, body: 'worker did not answer\n' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: 'worker did not answer\n' }));
  });
}

function proxy(port: number, req: http.IncomingMessage, res: http.ServerResponse): void {
  const up = http.request(
    { host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers, timeout: PROXY_TIMEOUT_MS, agent: false },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  up.on('timeout', () => up.destroy(new Error('timeout')));
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('worker did not answer\n');
    else res.destroy();
  });
  req.pipe(up);
}

/**
 * The worker's side: HTTP addresses are published to the primary (SharedHttp binds them on a
 * private loopback port), the primary is told when the worker serves, and its registry answers the
 * primary's metrics requests. A worker whose primary is gone stops (`onOrphaned`).
 */
export class WorkerLink implements HttpPublisher {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(): void; reject(e: Error): void }>();

  constructor(registry: import('prom-client').Registry, onOrphaned: () => void) {
    AggregatorRegistry.setRegistries([registry]);
    // Constructing one installs prom-client's listener for the primary's metrics requests.
    new AggregatorRegistry();
    process.on('message', (m: ToWorker) => {
      if (typeof m !== 'object' || m === null || m.clusterdns !== 'published') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new ClusterDnsError(ErrorCodes.BIND_FAILED, m.error));
      else p.resolve();
    });
    process.on('disconnect', onOrphaned);
  }

  static get isWorker(): boolean {
    return cluster.isWorker;
  }

  publish(addr: string, path: string, port: number): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ clusterdns: 'publish', id, addr, path, port });
    });
  }

  unpublish(addr: string, path: string, port: number): void {
    this.send({ clusterdns: 'unpublish', addr, path, port });
  }

  started(lines: string[]): void {
    this.send({ clusterdns: 'started', lines });
  }

  private send(m: ToPrimary): void {
    if (process.connected) process.send?.(m);
  }
}
