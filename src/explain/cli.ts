/**
 * `clusterdns explain NAME [TYPE] [-conf FILE | --snapshot FILE | --kubeconfig FILE [--context C]] [--json]`
 * Builds the config like the server would (without binding any port), waits for the kubernetes
 * data to sync, asks the name through the real plugin chain and prints the answer and why.
 */
import fs from 'node:fs';
import { destination } from 'pino';
import path from 'node:path';
import { stringToType } from '../dns/constants.js';
import { parseCorefile } from '../corefile/parser.js';
import { createLogger } from '../logger.js';
import { emptyHeader, replyTo } from '../dns/message.js';
import type { ProcessServices } from '../plugin/types.js';
import { allPlugins } from '../plugins/index.js';
import { Generation } from '../server/generation.js';
import { explain, formatExplain } from './explain.js';

const USAGE = 'usage: clusterdns explain NAME [TYPE] [-conf FILE | --snapshot FILE | --kubeconfig FILE [--context NAME]] [-dns.port N] [--json]\n';

interface ExplainArgs {
  name: string;
  type: number;
  conf: string | undefined;
  snapshot: string | undefined;
  kubeconfig: string | undefined;
  context: string | undefined;
  port: number;
  json: boolean;
}

function parse(argv: string[]): ExplainArgs {
  const positional: string[] = [];
  const a: ExplainArgs = { name: '', type: 1, conf: undefined, snapshot: undefined, kubeconfig: undefined, context: undefined, port: 53, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([\w.]+)(?:=(.*))?$/.exec(arg);
    if (!m) {
      positional.push(arg);
      continue;
    }
    const val = (): string => {
      const v = m[2] ?? argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${arg}`);
      return v;
    };
    switch (m[1]) {
      case 'conf': a.conf = val(); break;
      case 'snapshot': a.snapshot = val(); break;
      case 'kubeconfig': a.kubeconfig = val(); break;
      case 'context': a.context = val(); break;
      case 'dns.port': a.port = Number(val()); break;
      case 'json': a.json = true; break;
      default: throw new Error(`unknown flag ${arg}`);
    }
  }
  const [name, type] = positional;
  if (!name || positional.length > 2) throw new Error('expected NAME [TYPE]');
  a.name = name;
  if (type !== undefined) {
    const t = stringToType(type);
    if (t === undefined) throw new Error(`unknown type ${JSON.stringify(type)}`);
    a.type = t;
  }
  if ([a.conf, a.snapshot, a.kubeconfig].filter((x) => x !== undefined).length > 1) throw new Error('give one of -conf, --snapshot, --kubeconfig');
  return a;
}

/** The Corefile explain loads: the given one, or a kubernetes-only one around a snapshot or kubeconfig. */
function corefileFor(a: ExplainArgs): { file: string; text: string } {
  if (a.snapshot !== undefined || a.kubeconfig !== undefined) {
    const source = a.snapshot !== undefined
      ? `snapshot ${JSON.stringify(path.resolve(a.snapshot))}`
      : `kubeconfig ${JSON.stringify(path.resolve(a.kubeconfig!))}${a.context ? ` ${a.context}` : ''}`;
    return { file: '<explain>', text: `.:${a.port} {\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        ${source}\n        pods insecure\n    }\n}\n` };
  }
  const file = a.conf ?? 'Corefile';
  return { file, text: fs.readFileSync(file, 'utf8') };
}

export async function runExplain(argv: string[]): Promise<number> {
  let a: ExplainArgs;
  try {
    a = parse(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  // Logs go to stderr: stdout carries the explanation (and --json must stay parseable).
  const logger = createLogger({ level: process.env.CLUSTERDNS_LOG_LEVEL ?? 'warn', destination: destination({ dest: 2, sync: true }) });
  let gen: Generation | undefined;
  // No listener is bound: HTTP routes are accepted and ignored, lameduck is irrelevant.
  const services: ProcessServices = {
    http: { route: async () => () => undefined },
    lifecycle: { setLameduck: () => () => undefined, shuttingDown: false },
    quiet: true,
    notReady: () => gen?.notReady() ?? ['server'],
    reload: async () => false,
    resolve: async (port, name, type, parent) => {
      const d = gen?.dispatchers.get(port);
      if (!d) return replyTo({ ...emptyHeader(0), questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] }, 2);
      return d.resolveInternal(name, type, parent.origin);
    },
    explain: (port, name, type) => {
      const d = gen?.dispatchers.get(port);
      return d ? explain(d, name, type) : Promise.reject(new Error(`no server on port ${port}`));
    },
  };
  try {
    const { file, text } = corefileFor(a);
    gen = await Generation.build({ corefile: parseCorefile(text, file, { defaultPort: a.port }), corefileText: text, defaultPort: a.port, plugins: allPlugins(), process: services, logger });
    await gen.start();
    const deadline = Date.now() + 30_000;
    while (gen.notReady().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const waiting = gen.notReady();
    if (waiting.length > 0) process.stderr.write(`warning: not ready after 30 s: ${waiting.join(', ')}; answering from what is known\n`);
    const dispatcher = gen.dispatchers.get(a.port) ?? [...gen.dispatchers.values()].find((d) => d.route(a.name.toLowerCase().replace(/\.?$/, '.')));
    if (!dispatcher) throw new Error('the Corefile serves no port');
    const result = await explain(dispatcher, a.name, a.type);
    process.stdout.write(a.json ? `${JSON.stringify(result, null, 2)}\n` : formatExplain(result));
    return 0;
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await gen?.stop();
    logger.flush();
  }
}
