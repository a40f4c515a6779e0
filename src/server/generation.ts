/**
 * One configuration generation: every server block of a Corefile set up into plugin instances and
 * chains, grouped by port into dispatchers. A reload builds a new generation beside the serving
 * one and swaps the dispatchers; the old generation is stopped after in-flight queries finish.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Corefile, Directive } from '../corefile/types.js';
import { ConfigError, ErrorCodes } from '../errors.js';
import { buildChain } from '../plugin/chain.js';
import { pluginRank } from '../plugin/order.js';
import type { HandlerFactory, PluginInstance, PluginSetup, ProcessServices } from '../plugin/types.js';
import { Dispatcher, type ZoneRoute } from './dispatcher.js';

export interface GenerationOptions {
  corefile: Corefile;
  corefileText: string;
  defaultPort: number;
  plugins: ReadonlyMap<string, PluginSetup>;
  process: ProcessServices;
  logger: Logger;
}

interface NamedInstance {
  name: string;
  instance: PluginInstance;
}

export class Generation {
  /** Configured port → dispatcher for that port. */
  readonly dispatchers = new Map<number, Dispatcher>();
  /** "zone:port" lines as CoreDNS prints them at start. */
  readonly serverKeys: Array<{ zone: string; port: number }> = [];
  private readonly instances: NamedInstance[] = [];
  private stopped = false;

  private constructor() {}

  static async build(opts: GenerationOptions): Promise<Generation> {
    const g = new Generation();
    const routesByPort = new Map<number, ZoneRoute[]>();
    try {
      for (const block of opts.corefile.blocks) {
        const ports = new Set(block.addresses.map((a) => a.port ?? opts.defaultPort));
        for (const port of ports) {
          const addresses = block.addresses.filter((a) => (a.port ?? opts.defaultPort) === port);
          const factories: HandlerFactory[] = [];
          const siblings = new Map<string, PluginInstance>();
          for (const [name, directives] of groupByPlugin(block.directives, opts.plugins)) {
            const setup = opts.plugins.get(name)!;
            const instance = await setup.setup(directives, {
              corefile: opts.corefile.file,
              corefileText: opts.corefileText,
              addresses,
              port,
              root: path.dirname(path.resolve(opts.corefile.file)),
              logger: opts.logger.child({ plugin: name }),
              process: opts.process,
              siblings,
            });
            siblings.set(name, instance);
            g.instances.push({ name, instance });
            if (instance.handler) factories.push(instance.handler);
          }
          const chain = buildChain(factories);
          const routes = routesByPort.get(port) ?? [];
          for (const a of addresses) {
            routes.push({ zone: a.zone, chain, plugins: siblings });
            g.serverKeys.push({ zone: a.zone, port });
          }
          routesByPort.set(port, routes);
        }
      }
      for (const [port, routes] of routesByPort) g.dispatchers.set(port, new Dispatcher(routes, opts.logger));
    } catch (err) {
      await g.stop();
      throw err;
    }
    return g;
  }

  /** Starts watches, timers and HTTP routes. On failure everything started is stopped again. */
  async start(): Promise<void> {
    try {
      for (const { instance } of this.instances) await instance.start?.();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async afterListen(): Promise<void> {
    for (const { instance } of this.instances) await instance.afterListen?.();
  }

  notReady(): string[] {
    const names = new Set<string>();
    for (const { name, instance } of this.instances) if (instance.ready && !instance.ready()) names.add(name);
    return [...names];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const { instance } of [...this.instances].reverse()) {
      try {
        await instance.stop?.();
      } catch {
        /* stopping must release everything else even when one plugin fails */
      }
    }
  }
}

/** Directives grouped by plugin name, in plugin.cfg order; unknown names are an error at their line. */
function groupByPlugin(directives: Directive[], plugins: ReadonlyMap<string, PluginSetup>): Array<[string, Directive[]]> {
  const groups = new Map<string, Directive[]>();
  for (const d of directives) {
    if (!plugins.has(d.name) || pluginRank(d.name) === undefined) {
      throw new ConfigError(ErrorCodes.COREFILE_PLUGIN, d.file, d.line, `unknown directive '${d.name}'`);
    }
    const list = groups.get(d.name) ?? [];
    list.push(d);
    groups.set(d.name, list);
  }
  return [...groups].sort((a, b) => pluginRank(a[0])! - pluginRank(b[0])!);
}
