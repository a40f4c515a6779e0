/**
 * The plugin contract (CoreDNS's plugin.Handler, in TypeScript).
 *
 * A handler answers a query by writing to the ResponseWriter and returning the rcode it wrote, or
 * returns an rcode without writing (SERVFAIL, REFUSED, FORMERR, NOTIMP: see `isClientWrite`) and
 * the server writes that error reply. A handler that does not answer calls `next`.
 * The chain is built back to front once per server block at startup/reload, in the fixed order of
 * src/plugin/order.ts, whatever the Corefile order.
 */
import type { Directive, ServerAddress } from '../corefile/types.js';
import type { Logger } from 'pino';
import type { Request } from '../server/request.js';
import type { ResponseWriter } from '../server/response-writer.js';

export interface Handler {
  readonly name: string;
  /**
   * The rcode, or a promise of it. A handler that answers without waiting for anything (a memoized
   * record, a cache hit) returns it synchronously, and so does every wrapper that only passes it on:
   * a chain of async functions cost ~4 KB of promises and generator frames a query, a third of the
   * query path's allocation. Callers `await` the result, or test `typeof r === 'number'`.
   */
  serveDNS(req: Request, w: ResponseWriter): number | Promise<number>;
}

/** Wraps the rest of the chain. Receives the next handler (undefined at the end of the chain). */
export type HandlerFactory = (next: Handler | undefined) => Handler;

/** What setup returns for one directive in one server block. */
export interface PluginInstance {
  /** The handler in the query path; plugins such as health or reload have none. */
  handler?: HandlerFactory;
  /** For /ready: true when this plugin can serve (e.g. the kubernetes plugin after its first list). */
  ready?: () => boolean;
  /** Called after all server blocks are set up and before the listeners open (e.g. start a watch, bind an HTTP port). */
  start?: () => Promise<void>;
  /** Called after the listeners open and the server serves (e.g. loop detection). */
  afterListen?: () => Promise<void>;
  /** Called when this config is retired (reload or shutdown). Must release every timer, socket and watch. */
  stop?: () => Promise<void>;
  /** Optional: the object other plugins may look up by plugin name (e.g. autopath asks for @kubernetes). */
  exported?: unknown;
}

/** What a plugin's setup gets besides its directive. */
export interface SetupContext {
  /** The Corefile path, for error messages and for resolving relative paths. */
  corefile: string;
  /** The Corefile text this config was built from (reload compares against it). */
  corefileText: string;
  /** The server block's addresses (zones and ports). */
  addresses: ServerAddress[];
  /** The port the block listens on after defaults are applied. */
  port: number;
  /** Directory relative file paths are resolved from (the Corefile's directory). */
  root: string;
  logger: Logger;
  /** Process-wide services shared by every server block and kept across reloads (HTTP listeners, metrics). */
  process: ProcessServices;
  /** Instances already set up in this server block, by plugin name (setup runs in plugin order). */
  siblings: ReadonlyMap<string, PluginInstance>;
}

/** Services that outlive a single config (so a reload can hand them over). */
export interface ProcessServices {
  /** Registers a path on a shared HTTP listener at ADDR (":8080", "localhost:9153"). */
  http: HttpRegistry;
  /** Lameduck and shutdown coordination. */
  lifecycle: Lifecycle;
  /** -quiet */
  quiet: boolean;
  /** Names of plugins in the serving config that are not ready yet (empty: ready). */
  notReady(): string[];
  /** Re-reads the Corefile and hands over to the new config; false (and the old config keeps serving) when it fails. */
  reload(): Promise<boolean>;
  /**
   * Resolves a name through the serving config's chains on `port` (CoreDNS's pkg/upstream), e.g. to
   * chase an ExternalName's CNAME target. Pass the request that triggered it so nesting is bounded.
   */
  resolve(port: number, name: string, type: number, parent: Request): Promise<import('../dns/message.js').Message>;
  /** Explains the answer the serving config gives for a name on `port` (src/explain). */
  explain(port: number, name: string, type: number): Promise<import('../explain/explain.js').ExplainResult>;
}

export interface HttpRoute {
  (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void;
}

export interface HttpRegistry {
  /**
   * Adds a route on the shared HTTP listener at addr (binding it on first use; listeners survive a
   * reload while some config still routes on them). Resolves to a function that removes the route.
   * Rejects with a BIND_FAILED error when the address cannot be bound.
   */
  route(addr: string, path: string, handler: HttpRoute): Promise<() => void>;
}

export interface Lifecycle {
  /** Registers a lameduck duration (health plugin); the largest registered is used on SIGTERM. Returns an unregister function. */
  setLameduck(ms: number): () => void;
  /** True once shutdown has begun: /health stays 200 during lameduck (as CoreDNS), /ready turns 503. */
  readonly shuttingDown: boolean;
}

export interface PluginSetup {
  readonly name: string;
  /**
   * Parses this plugin's directives in one server block (all of them, in Corefile order: most plugins
   * accept one and use `singleDirective`) and returns an instance. Bad input throws ConfigError with
   * the directive's file and line.
   */
  setup(directives: Directive[], ctx: SetupContext): PluginInstance | Promise<PluginInstance>;
}
