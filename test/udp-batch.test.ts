/**
 * UDP served both ways, end to end: the real CLI on loopback, once with the batched addon
 * (native/udp_batch.c, the default when it is built) and once with CLUSTERDNS_UDP_BATCH=0 (Node's
 * dgram). Each must answer dig and a raw client over IPv4 and ::1 with the client's own address and
 * port (whoami), thousands of pipelined queries from several sockets (every ID answered once, with
 * its own answer), a datagram too long to be a query followed by a good one, answers that come
 * asynchronously (forward to a slow upstream) mixed with synchronous ones, -workers 2 on the
 * shared socket, and SIGTERM with lameduck losing no query.
 *
 * With CI=true the batched run must really be batched: a build that silently fell back to dgram
 * fails here (the server says how it serves UDP in its first log lines).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import type { Message } from '../src/dns/message.js';
import { sigtermUnderLoad } from './chaos/lifecycle.js';
import { buildQuery } from './support/dns-client.js';
import { hasDig } from './support/dig.js';
import { metricsText, metricSum } from './fuzz/target.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { rr, UpstreamServer } from './support/upstream-server.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const addonBuilt = fs.existsSync(path.join(root, 'build', 'Release', 'udp_batch.node'));
const onCi = process.env.CI === 'true';
const BATCHED_LINE = /udp: batched I\/O \(native udp_batch/;

/**
 * Sends the query (hex) to 127.0.0.1 and ::1 at the port, 10 times each, from source port 0: a UDP
 * header written by hand on a raw socket (Node has none). The kernel fills the IP header, and the
 * UDP checksum for IPv6 (IPV6_CHECKSUM); over IPv4 0 means "no checksum".
 */
const RAW_PORT0 = `
import socket, struct, sys
port, q = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
udp = struct.pack('>HHHH', 0, port, 8 + len(q), 0) + q
s4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 6)
for i in range(10):
    s4.sendto(udp, ('127.0.0.1', 0))
    s6.sendto(udp, ('::1', 0))
`;
/** Raw sockets need root (CAP_NET_RAW), and the sender is a python3 one-liner. */
const rawUdp = process.getuid?.() === 0 && spawnSync('python3', ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)']).status === 0;

const HOSTS = 1000;
/** h<N>.example.org's address in the hosts file. */
const hostAddress = (n: number): string => `10.9.${n >> 8}.${n & 255}`;
const hostsFile = Array.from({ length: HOSTS }, (_, n) => `${hostAddress(n)} h${n}.example.org`).join('\n') + '\n192.0.2.1 www.example.org\n2001:db8::1 www.example.org\n';

const addresses = (m: Message): string[] => m.answers.map((r) => ('address' in r ? r.address : '')).sort();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function corefile(port: number, metricsPort: number, upstreamPort: number): string {
  return `example.org:${port} {
    hosts hosts.txt
    prometheus 127.0.0.1:${metricsPort}
}
test:${port} {
    whoami
}
fwd.test:${port} {
    forward . 127.0.0.1:${upstreamPort}
}
`;
}

function digAt(server: string, port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${server}`, '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 10_000 }, (err, stdout) => {
      if (err && !stdout) reject(err);
      else resolve(stdout);
    });
  });
}

/** A raw client socket on loopback (IPv4 or ::1) that collects replies. */
async function rawClient(family: 4 | 6): Promise<{ sock: dgram.Socket; replies: Buffer[]; host: string }> {
  const host = family === 4 ? '127.0.0.1' : '::1';
  const sock = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', recvBufferSize: 1 << 20 });
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => sock.bind(0, host, r));
  return { sock, replies, host };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(5);
  }
}

/**
 * `count` queries for h<N>.example.org (random case) from one socket, at most `window`
 * outstanding; resolves with every problem found (missing, duplicate or wrong answers).
 */
async function pipelined(port: number, family: 4 | 6, first: number, count: number, window: number): Promise<string[]> {
  const { sock, host } = await rawClient(family);
  const problems: string[] = [];
  const names = new Map<number, string>();
  const answered = new Set<number>();
  let sent = 0;
  let received = 0;
  const sendNext = (): void => {
    const id = sent++;
    const n = (first + id) % HOSTS;
    const name = [...`h${n}.example.org.`].map((c) => (Math.random() < 0.5 ? c.toUpperCase() : c)).join('');
    names.set(id, name);
    sock.send(buildQuery(name, RRType.A, { id }), port, host);
  };
  sock.removeAllListeners('message');
  sock.on('message', (wire) => {
    received++;
    const m = decodeMessage(wire);
    const name = names.get(m.id);
    if (name === undefined || answered.has(m.id)) problems.push(`unexpected or duplicate ID ${m.id}`);
    else {
      answered.add(m.id);
      const n = (first + m.id) % HOSTS;
      if (m.questions[0]?.name !== name) problems.push(`ID ${m.id}: question ${m.questions[0]?.name}, sent ${name}`);
      if (m.rcode !== Rcode.NOERROR || addresses(m).join() !== hostAddress(n)) problems.push(`ID ${m.id}: ${m.rcode} ${addresses(m).join()}`);
    }
    if (sent < count) sendNext();
  });
  for (let i = 0; i < Math.min(window, count); i++) sendNext();
  await until(() => received >= count, 20_000, `${count - received} of ${count} answers`).catch((err: Error) => problems.push(err.message));
  sock.close();
  return problems;
}

for (const mode of ['batched', 'dgram'] as const) {
  const env: NodeJS.ProcessEnv = mode === 'dgram' ? { CLUSTERDNS_UDP_BATCH: '0' } : {};

  describe(`UDP served ${mode === 'batched' ? 'in batches (native addon)' : 'through Node dgram (CLUSTERDNS_UDP_BATCH=0)'}`, () => {
    let srv: ServerProcess;
    let up: UpstreamServer;
    let port: number;
    let metricsPort: number;
    before(async () => {
      up = await UpstreamServer.start({ records: [rr.a('up.fwd.test.', '203.0.113.9')] });
      up.fault = { delayMs: 30 };
      port = await freePort();
      metricsPort = await freePort();
      srv = await startServer(corefile(port, metricsPort, up.port), { files: { 'hosts.txt': hostsFile }, env });
    });
    after(async () => {
      await srv.stop();
      await up.stop();
    });

    it('says how it serves UDP', async () => {
      if (mode === 'dgram') {
        await srv.waitFor(/udp: Node dgram \(CLUSTERDNS_UDP_BATCH=0\)/, 5000);
        assert.doesNotMatch(srv.stdout(), BATCHED_LINE);
      } else if (addonBuilt || onCi) {
        // On CI the addon must be built and used; a silent fallback to dgram fails here.
        await srv.waitFor(BATCHED_LINE, 5000);
      } else {
        await srv.waitFor(/udp: Node dgram, native batching unavailable/, 5000);
      }
    });

    it('answers dig over IPv4 and ::1', { skip: !hasDig && 'dig not installed' }, async () => {
      assert.equal((await digAt('127.0.0.1', port, ['www.example.org', 'A', '+short'])).trim(), '192.0.2.1');
      assert.equal((await digAt('::1', port, ['www.example.org', 'AAAA', '+short'])).trim(), '2001:db8::1');
      const who = await digAt('::1', port, ['me.test', 'A']);
      assert.match(who, /status: NOERROR/);
      assert.match(who, /me\.test\.\s+0\s+IN\s+AAAA\s+::1/);
    });

    for (const family of [4, 6] as const) {
      it(`gives the dispatcher the client's address and port (whoami, IPv${family})`, async () => {
        const { sock, replies, host } = await rawClient(family);
        try {
          sock.send(buildQuery('who.test.', RRType.A, { id: 4242 }), port, host);
          await until(() => replies.length === 1, 3000, 'whoami answer');
          const m = decodeMessage(replies[0]!);
          assert.equal(m.id, 4242);
          const a = m.additionals.find((r) => r.type === (family === 4 ? RRType.A : RRType.AAAA));
          const srv = m.additionals.find((r) => r.type === RRType.SRV);
          assert.ok(a && 'address' in a && srv && 'port' in srv);
          assert.equal(a.address, host);
          assert.equal(srv.port, sock.address().port);
          assert.equal(srv.name, '_udp.who.test.');
        } finally {
          sock.close();
        }
      });
    }

    it('answers 5,000 pipelined queries from 8 sockets over both families, each ID once with its own answer', async () => {
      const runs = Array.from({ length: 8 }, (_, i) => pipelined(port, i % 2 === 0 ? 4 : 6, i * 625, 625, 200));
      const problems = (await Promise.all(runs)).flat();
      assert.deepEqual(problems.slice(0, 10), []);
    });

    it("exports the addon's counters in /metrics (batched only)", { skip: mode !== 'dgram' && !(addonBuilt || onCi) ? 'native addon not built' : false }, async () => {
      const metrics = await metricsText(metricsPort);
      if (mode === 'dgram') {
        assert.doesNotMatch(metrics, /clusterdns_udp_batch_/);
        return;
      }
      // After the 5,000 pipelined queries above (and the earlier tests' few).
      const received = metricSum(metrics, 'clusterdns_udp_batch_received_total');
      const sent = metricSum(metrics, 'clusterdns_udp_batch_sent_total');
      const batches = metricSum(metrics, 'clusterdns_udp_batch_batches_total');
      assert.ok(received >= 5000, `received ${received}`);
      assert.ok(sent >= 5000 && sent <= received, `sent ${sent} of ${received}`);
      assert.ok(batches >= 1 && batches <= received, `batches ${batches}`);
      for (const name of ['truncated', 'receive_errors', 'send_errors', 'dropped']) {
        assert.equal(metricSum(metrics, `clusterdns_udp_batch_${name}_total`), 0, name);
      }
      assert.match(metrics, /^# TYPE clusterdns_udp_batch_would_block_total counter$/m);
      assert.equal(metricSum(metrics, 'clusterdns_udp_batch_queued'), 0);
    });

    it('drops a datagram too long to be a query (and counts it), then answers the next one', async () => {
      const { sock, replies, host } = await rawClient(4);
      try {
        const q = buildQuery('www.example.org.', RRType.A, { id: 1 });
        for (const size of [5000, 65507]) {
          const big = Buffer.alloc(size);
          q.copy(big);
          sock.send(big, port, host);
        }
        sock.send(buildQuery('www.example.org.', RRType.A, { id: 2 }), port, host);
        await until(() => replies.some((r) => r.readUInt16BE(0) === 2), 3000, 'the answer after the long datagrams');
        await sleep(100);
        const good = decodeMessage(replies.find((r) => r.readUInt16BE(0) === 2)!);
        assert.deepEqual(addresses(good), ['192.0.2.1']);
        if (mode === 'batched' && (addonBuilt || onCi)) {
          // Longer than the addon's 4 KB slot: dropped unread and counted as malformed.
          assert.equal(replies.filter((r) => r.readUInt16BE(0) === 1).length, 0);
          const metrics = await metricsText(metricsPort);
          assert.equal(metricSum(metrics, 'clusterdns_malformed_requests_total', 'action="drop"'), 2);
          assert.equal(metricSum(metrics, 'clusterdns_udp_batch_truncated_total'), 2);
        }
      } finally {
        sock.close();
      }
    });

    it('drops queries from source port 0 (no reply can reach it) without a plugin error, and keeps answering', { skip: !rawUdp && 'needs python3 and raw sockets (root)' }, async () => {
      const dropsBefore = metricSum(await metricsText(metricsPort), 'clusterdns_malformed_requests_total', 'action="drop"');
      const q = buildQuery('www.example.org.', RRType.A, { id: 7 });
      execFileSync('python3', ['-c', RAW_PORT0, String(port), q.toString('hex')], { timeout: 10_000 });
      const { sock, replies, host } = await rawClient(4);
      try {
        sock.send(buildQuery('www.example.org.', RRType.A, { id: 8 }), port, host);
        await until(() => replies.length > 0, 3000, 'the answer after the port-0 datagrams');
        assert.deepEqual(addresses(decodeMessage(replies[0]!)), ['192.0.2.1']);
        const metrics = await metricsText(metricsPort);
        assert.equal(metricSum(metrics, 'coredns_panics_total'), 0);
        assert.equal(metricSum(metrics, 'clusterdns_malformed_requests_total', 'action="drop"') - dropsBefore, 20);
        assert.doesNotMatch(srv.stderr() + srv.stdout(), /ERR_SOCKET_BAD_PORT|plugin error|query failed/);
      } finally {
        sock.close();
      }
    });

    it('sends answers that come later (forwarded) to the right client, mixed with immediate ones', async () => {
      const { sock, replies, host } = await rawClient(4);
      try {
        // One burst, so forwarded and local queries share batches.
        for (let id = 0; id < 100; id++) {
          sock.send(buildQuery(id % 2 === 0 ? 'up.fwd.test.' : `h${id}.example.org.`, RRType.A, { id }), port, host);
        }
        await until(() => replies.length >= 100, 10_000, `${100 - replies.length} answers`);
        await sleep(100);
        assert.equal(replies.length, 100);
        const byId = new Map(replies.map((r) => [r.readUInt16BE(0), decodeMessage(r)]));
        for (let id = 0; id < 100; id++) {
          const m = byId.get(id);
          assert.ok(m, `no answer for ${id}`);
          assert.deepEqual(addresses(m), [id % 2 === 0 ? '203.0.113.9' : hostAddress(id)], `ID ${id}`);
        }
        assert.ok(up.count('up.fwd.test.') >= 1, 'the upstream was asked');
      } finally {
        sock.close();
      }
    });

    it('serves with -workers 2 on the shared socket', async () => {
      const p2 = await freePort();
      const m2 = await freePort();
      const w = await startServer(corefile(p2, m2, up.port), { files: { 'hosts.txt': hostsFile }, env, args: ['-workers', '2'] });
      try {
        if (mode === 'batched' && (addonBuilt || onCi)) {
          await until(() => (w.stdout().match(new RegExp(BATCHED_LINE.source, 'g')) ?? []).length === 2, 5000, 'both workers batched');
        }
        const problems = (await Promise.all(Array.from({ length: 4 }, (_, i) => pipelined(p2, 4, i * 250, 500, 100)))).flat();
        assert.deepEqual(problems.slice(0, 10), []);
      } finally {
        assert.equal(await w.stop(), 0);
      }
    });

    it('loses no query on SIGTERM with lameduck, slow forwarded answers included', async () => {
      // sigtermUnderLoad (the hardening suite's scenario) starts its own server, which inherits
      // this process's environment: set the mode there for the call.
      const saved = process.env.CLUSTERDNS_UDP_BATCH;
      if (mode === 'dgram') process.env.CLUSTERDNS_UDP_BATCH = '0';
      let r;
      try {
        r = await sigtermUnderLoad({ lameduckMs: 500, loadMs: 700, udpWorkers: 16, tcpWorkers: 4 });
      } finally {
        if (saved === undefined) delete process.env.CLUSTERDNS_UDP_BATCH;
        else process.env.CLUSTERDNS_UDP_BATCH = saved;
      }
      assert.deepEqual([...r.udp.lost, ...r.tcp.lost], [], 'queries lost');
      assert.deepEqual([...r.udp.wrong, ...r.tcp.wrong], [], 'wrong answers');
      assert.equal(r.exitCode, 0);
      assert.equal(r.udp.sent, r.udp.answered + r.udp.refused);
      assert.ok(r.slowAnsweredAfterClose > 0, 'slow answers were in flight when the listeners closed');
      assert.ok(r.udp.answered > 100);
    });
  });
}
