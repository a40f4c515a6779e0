/**
 * Shared HTTP listeners for health, ready, prometheus and explain. A listener is bound on first
 * use and kept while any route is on it, so a reload that keeps `health :8080` never closes the
 * port (Kubernetes probes keep passing through the handover).
 */
import http from 'node:http';
import type { Logger } from 'pino';
import { ClusterDnsError, ErrorCodes } from '../errors.js';
import type { HttpRegistry, HttpRoute } from '../plugin/types.js';
import type { DirectiveReader } from '../corefile/directive-reader.js';

interface Listener {
  server: http.Server;
  /** Path → stack of handlers; the newest registration serves (the new config during a reload). */
  routes: Map<string, HttpRoute[]>;
  port: number;
}

/** ":8080" → { host: undefined, port: 8080 }; "localhost:9153"; "[::1]:8080"; "127.0.0.1:0". */
export function parseHttpAddress(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid address ${JSON.stringify(addr)}: expected [HOST]:PORT`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  return { host, port };
}

/** The optional ADDRESS argument of health/ready/prometheus, checked, or `fallback`; a bad one is an error at the directive. */
export function httpAddressArg(r: DirectiveReader, fallback: string): string {
  const [addr = fallback] = r.args(0, 1);
  try {
    parseHttpAddress(addr);
  } catch (err) {
    throw r.error((err as Error).message);
  }
  return addr;
}

/**
 * Worker mode (`-workers N`, server/workers.ts): the configured addresses belong to the primary
 * process. A worker's SharedHttp binds each address on a private loopback port instead and
 * publishes every path it serves there; the primary listens on the address and forwards.
 */
export interface HttpPublisher {
  /** Resolves once the primary serves `path` on `addr` through privatePort; rejects with its bind error. */
  publish(addr: string, path: string, privatePort: number): Promise<void>;
  unpublish(addr: string, path: string, privatePort: number): void;
}

export class SharedHttp implements HttpRegistry {
  private readonly listeners = new Map<string, Listener>();
  private readonly binding = new Map<string, Promise<Listener>>();

  constructor(private readonly logger: Logger, private readonly publisher?: HttpPublisher) {}

  /** The port actually bound for addr (tests use ":0"). */
  boundPort(addr: string): number | undefined {
    return this.listeners.get(addr)?.port;
  }

  async route(addr: string, path: string, handler: HttpRoute): Promise<() => void> {
    const l = await this.listener(addr);
    const stack = l.routes.get(path) ?? [];
    stack.push(handler);
    l.routes.set(path, stack);
    const unroute = (): void => {
      const s = l.routes.get(path);
      if (!s) return;
      const i = s.lastIndexOf(handler);
      if (i >= 0) s.splice(i, 1);
      if (s.length === 0) {
        l.routes.delete(path);
        this.publisher?.unpublish(addr, path, l.port);
      }
      if (l.routes.size === 0) this.closeListener(addr, l);
    };
    if (this.publisher && stack.length === 1) {
      try {
        await this.publisher.publish(addr, path, l.port);
      } catch (err) {
        unroute();
        throw err;
      }
    }
    this.logger.debug({ addr, path, port: l.port }, 'http route added');
    return unroute;
  }

  private listener(addr: string): Promise<Listener> {
    const existing = this.listeners.get(addr);
    if (existing) return Promise.resolve(existing);
    const inProgress = this.binding.get(addr);
    if (inProgress) return inProgress;
    const p = this.bind(addr).finally(() => this.binding.delete(addr));
    this.binding.set(addr, p);
    return p;
  }

  private async bind(addr: string): Promise<Listener> {
    const { host, port } = this.publisher ? { host: '127.0.0.1', port: 0 } : parseHttpAddress(addr);
    const routes = new Map<string, HttpRoute[]>();
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const stack = routes.get(path);
      const h = stack?.[stack.length - 1];
      if (!h) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
        return;
      }
      try {
        h(req, res);
      } catch (err) {
        this.logger.error({ err, path }, 'http handler failed');
        if (!res.headersSent) res.writeHead(500).end();
      }
    });
    server.keepAliveTimeout = 5000;
    server.headersTimeout = 5000;
    server.requestTimeout = 10000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new ClusterDnsError(ErrorCodes.BIND_FAILED, `listen tcp ${addr}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })),
      );
      server.listen(port, host, () => resolve());
    });
    const a = server.address();
    const l: Listener = { server, routes, port: typeof a === 'object' && a ? a.port : port };
    this.listeners.set(addr, l);
    return l;
  }

  private closeListener(addr: string, l: Listener): void {
    if (this.listeners.get(addr) !== l) return;
    this.listeners.delete(addr);
    l.server.close();
    l.server.closeAllConnections();
  }

  async closeAll(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => new Promise<void>((r) => { l.server.close(() => r()); l.server.closeAllConnections(); })));
  }
}
