#!/usr/bin/env node
/**
 * clusterdns command line, with CoreDNS's flags:
 *   -conf FILE     Corefile to load (default ./Corefile)
 *   -dns.port N    port for server blocks that name none (default 53)
 *   -version       print the version and exit
 *   -plugins       list the compiled-in plugins and exit
 *   -quiet         do not print the startup banner
 *   -workers N     serve from N processes sharing the ports (default 1; "auto": one per CPU), see server/workers.ts
 * Go's flag syntax is accepted: -conf FILE, -conf=FILE, --conf FILE.
 */
import cluster from 'node:cluster';
import os from 'node:os';
import { createLogger } from './logger.js';
import { PLUGIN_ORDER } from './plugin/order.js';
import { SERVER_NAME, VERSION } from './version.js';
import { ClusterDnsError } from './errors.js';
import { applyHeapGrowth } from './server/heap-growth.js';
import { compactBelowBytes, startHeapSampling } from './server/heap-compaction.js';
import { startMallocTrim } from './server/malloc-trim.js';
import { pageOutWhenReady } from './server/page-out.js';

interface CliOptions {
  conf: string;
  port: number;
  version: boolean;
  plugins: boolean;
  quiet: boolean;
  workers: number;
}

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { conf: 'Corefile', port: 53, version: false, plugins: false, quiet: false, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const m = /^--?([\w.]+)(?:=(.*))?$/.exec(raw);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(raw)}`);
    const name = m[1]!;
    const value = (): string => {
      if (m[2] !== undefined) return m[2];
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: -${name}`);
      return v;
    };
    switch (name) {
      case 'conf': o.conf = value(); break;
      case 'dns.port': {
        const v = value();
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new Error(`invalid value ${JSON.stringify(v)} for flag -dns.port: expected a port 0-65535`);
        o.port = n;
        break;
      }
      case 'version': o.version = true; break;
      case 'plugins': o.plugins = true; break;
      case 'quiet': o.quiet = true; break;
      case 'workers': {
        const v = value();
        const n = v === 'auto' ? os.availableParallelism() : Number(v);
        if ((v !== 'auto' && !/^\d+$/.test(v)) || n < 1 || n > 256) throw new Error(`invalid value ${JSON.stringify(v)} for flag -workers: expected 1-256 or auto`);
        o.workers = n;
        break;
      }
      case 'h': case 'help':
        process.stdout.write(usage());
        process.exit(0);
      default:
        throw new Error(`flag provided but not defined: -${name}`);
    }
  }
  return o;
}

function usage(): string {
  return `Usage of ${SERVER_NAME}:\n  -conf string\n    \tCorefile to load (default "Corefile")\n  -dns.port string\n    \tDefault port (default "53")\n  -plugins\n    \tList installed plugins\n  -quiet\n    \tQuiet mode (no initialization output)\n  -version\n    \tShow version\n  -workers string\n    \tServe from N processes sharing the ports, or auto for one per CPU (default "1")\n`;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'explain') {
    const { runExplain } = await import('./explain/cli.js');
    process.exit(await runExplain(process.argv.slice(3)));
  }
  let opts: CliOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage()}`);
    process.exit(2);
  }
  const banner = `${SERVER_NAME}-${VERSION}\n${process.platform}/${process.arch}, node ${process.version}\n`;
  if (opts.version) {
    process.stdout.write(banner);
    return;
  }
  let compactBelow = 0;
  try {
    applyHeapGrowth();
    compactBelow = compactBelowBytes(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  startMallocTrim();
  if (opts.workers > 1 && cluster.isPrimary && !opts.plugins) {
    // The primary loads no plugin (nor the Kubernetes client): it forks, supervises and fronts HTTP.
    const { runPrimary } = await import('./server/workers.js');
    const code = await runPrimary({ workers: opts.workers, logger: createLogger(), quiet: opts.quiet, banner, print: (t) => process.stdout.write(t) });
    process.exit(code);
  }
  const [{ allPlugins }, { Supervisor }, { registry }, { tcpLimitsFromEnv }] = await Promise.all([
    import('./plugins/index.js'),
    import('./server/supervisor.js'),
    import('./metrics/registry.js'),
    import('./server/tcp.js'),
  ]);
  const plugins = allPlugins();
  if (opts.plugins) {
    process.stdout.write('Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n');
    for (const name of PLUGIN_ORDER) if (plugins.has(name)) process.stdout.write(`  dns.${name}\n`);
    return;
  }

  const logger = cluster.isWorker ? createLogger().child({ worker: Number(process.env.CLUSTERDNS_WORKER ?? 0) }) : createLogger();
  let stop = (_signal: string): void => undefined;
  // A worker tells the primary when it serves and publishes its HTTP paths to it; it prints nothing
  // at start (the primary prints the lines once), and after that only worker 0 prints reloads.
  let started = false;
  const link = cluster.isWorker
    ? new (await import('./server/workers.js')).WorkerLink(registry, () => (started ? stop('primary gone') : process.exit(1)))
    : undefined;
  const startLines: string[] = [];
  const supervisor = new Supervisor({
    corefilePath: opts.conf,
    defaultPort: opts.port,
    plugins,
    logger,
    quiet: opts.quiet,
    tcpLimits: tcpLimitsFromEnv(process.env),
    print: (line) => {
      if (!link) process.stdout.write(`${line}\n`);
      else if (!started) startLines.push(line);
      else if (process.env.CLUSTERDNS_WORKER === '0') process.stdout.write(`${line}\n`);
    },
    ...(link ? { httpPublisher: link } : {}),
  });
  try {
    await supervisor.start();
  } catch (err) {
    const msg = err instanceof ClusterDnsError ? err.message : (err as Error).stack ?? String(err);
    process.stderr.write(`Error: ${msg}\n`);
    logger.flush();
    process.exit(1);
  }
  started = true;
  const pageOut = pageOutWhenReady({ isReady: () => supervisor.notReady().length === 0, logger });
  // The heap's samples also tell when a warm-up is over: then the compiler's code is paged out too.
  startHeapSampling({
    compactBelowBytes: compactBelow,
    watchWarmUp: () => pageOut.ran(),
    onWarmUp: () => pageOut.afterWarmUp(),
    onCompactionFailed: (err) => logger.warn({ err }, 'heap compaction failed; not tried again'),
  });
  if (link) link.started(startLines);
  else if (!opts.quiet) process.stdout.write(banner);

  let stopping = false;
  stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `[INFO] ${signal}: Shutting down`);
    supervisor
      .shutdown()
      .then(() => {
        logger.flush();
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // CoreDNS reloads on SIGUSR1.
  process.on('SIGUSR1', () => void supervisor.reload());
  // Never let one stray error take the DNS service down; it is logged and counted where it happens.
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
}

void main();
