// One build of clusterdns for bench/pipeline.ts, driven over IPC. Plain JavaScript on purpose: under
// tsx every module loaded is transformed again (esbuild's keepNames wraps each closure in __name()),
// which would add its own cost to the very path being measured.
//   node bench/pipeline-child.mjs DIST COREFILE QUERIES   (QUERIES: 2-byte length-prefixed messages)
import fs from 'node:fs';
import path from 'node:path';

const [dist, corefile, queriesFile] = process.argv.slice(2);
const url = (p) => new URL(`file://${path.resolve(dist, p)}`).href;
const { Supervisor } = await import(url('server/supervisor.js'));
const { allPlugins } = await import(url('plugins/index.js'));
const { createLogger } = await import(url('logger.js'));

const raw = fs.readFileSync(queriesFile);
const queries = [];
for (let p = 0; p < raw.length; ) {
  const len = raw.readUInt16BE(p);
  queries.push(raw.subarray(p + 2, p + 2 + len));
  p += 2 + len;
}

const sup = new Supervisor({ corefilePath: corefile, defaultPort: 53, plugins: allPlugins(), logger: createLogger({ level: 'warn' }), quiet: true });
await sup.start();
// The serving generation is private: this harness reaches in to drive its dispatcher directly.
const gen = sup.generation;
for (let i = 0; gen.notReady().length > 0; i++) {
  if (i > 6000) throw new Error(`not ready: ${gen.notReady().join(', ')}`);
  await new Promise((r) => setTimeout(r, 10));
}
const dispatcher = [...gen.dispatchers.values()][0];
const origin = { transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' };
let bytes = 0;
const send = (reply) => {
  bytes += reply.length;
};

async function run(count) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) await dispatcher.handle(queries[i % queries.length], origin, send);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

process.on('message', (m) => {
  if (m.stop) {
    void sup.shutdown().then(() => process.exit(0));
    return;
  }
  void run(m.count).then((us) => process.send({ us, bytes }));
});
process.send({ ready: true });
