/**
 * forward in process, against real upstream servers on loopback: the exported forwardQuery, the
 * policies, health probing, the socket bounds, and the wire helpers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, type Message } from '../../dns/message.js';
import type { PluginInstance, SetupContext } from '../../plugin/types.js';
import { rr, UpstreamServer } from '../../../test/support/upstream-server.js';
import { type ForwardExports, forward } from './setup.js';
import { TCP_MAX_CONNS, UDP_MAX_SOCKETS } from './transport.js';
import { isReplyTo, questionEnd, restoreClientView } from './wire.js';
import { fakeProcessServices } from '../../plugin/testing.js';

const instances: PluginInstance[] = [];
const servers: UpstreamServer[] = [];

async function start(corefile: string): Promise<ForwardExports> {
  const block = parseCorefile(corefile, 'Corefile').blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: corefile, addresses: block.addresses, port: 53, root: '/', logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings: new Map(),
  };
  const inst = await forward.setup(block.directives.filter((d) => d.name === 'forward'), ctx);
  await inst.start?.();
  instances.push(inst);
  return inst.exported as ForwardExports;
}

async function upstream(records = [rr.a('www.example.org.', '192.0.2.1')]): Promise<UpstreamServer> {
  const u = await UpstreamServer.start({ records });
  servers.push(u);
  return u;
}

const addresses = (m: Message): string[] => m.answers.map((a) => ('address' in a ? a.address : ''));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

after(async () => {
  for (const i of instances) await i.stop?.();
  for (const s of servers) await s.stop();
});

describe('forwardQuery (for other plugins)', () => {
  it('resolves through the upstreams and returns the decoded reply, whatever its rcode', async () => {
    const u = await upstream();
    const f = await start(`. {\n forward example.org ${u.addr}\n}\n`);
    const r = await f.forwardQuery('WWW.example.org.', RRType.A);
    assert.equal(r.rcode, Rcode.NOERROR);
    assert.deepEqual(addresses(r), ['192.0.2.1']);
    assert.equal((await f.forwardQuery('nx.example.org', RRType.A)).rcode, Rcode.NXDOMAIN);
    await assert.rejects(f.forwardQuery('www.example.com.', RRType.A), /not forwarded by this server block/);
  });

  it('asks again over TCP when the UDP reply is truncated', async () => {
    const u = await upstream();
    u.fault = { truncateUdp: true };
    const f = await start(`. {\n forward . ${u.addr}\n}\n`);
    const r = await f.forwardQuery('www.example.org.', RRType.A);
    assert.equal(r.tc, false);
    assert.deepEqual(addresses(r), ['192.0.2.1']);
    assert.deepEqual(u.seen('www.example.org.').map((q) => q.transport), ['udp', 'tcp']);
  });

  it('rejects when no upstream answers', async () => {
    const u = await upstream();
    u.fault = { drop: true };
    const f = await start(`. {\n forward . ${u.addr} {\n read_timeout 100ms\n }\n}\n`);
    await assert.rejects(f.forwardQuery('www.example.org.', RRType.A), /timeout/);
  });
});

describe('policies', () => {
  it('sequential always starts with the first, round_robin rotates, random uses all', async () => {
    const us = [await upstream(), await upstream(), await upstream()];
    const to = us.map((u) => u.addr).join(' ');
    const seq = await start(`. {\n forward . ${to} {\n policy sequential\n }\n}\n`);
    for (let i = 0; i < 3; i++) await seq.forwardQuery('www.example.org.', RRType.A);
    assert.deepEqual(us.map((u) => u.count('www.example.org.')), [3, 0, 0]);

    const rr3 = await start(`. {\n forward . ${to} {\n policy round_robin\n }\n}\n`);
    for (let i = 0; i < 6; i++) await rr3.forwardQuery('www.example.org.', RRType.A);
    assert.deepEqual(us.map((u) => u.count('www.example.org.')), [5, 2, 2]);

    const rnd = await start(`. {\n forward . ${to}\n}\n`);
    for (let i = 0; i < 60; i++) await rnd.forwardQuery('www.example.org.', RRType.A);
    const counts = us.map((u) => u.count('www.example.org.'));
    assert.equal(counts[0]! + counts[1]! + counts[2]!, 69);
    assert.ok(counts[1]! > 2 && counts[2]! > 2, `random spreads: ${counts}`);
  });
});

describe('health probes', () => {
  it('probe a failing upstream with `. IN NS` until it answers; max_fails 0 never probes', async () => {
    const flaky = await upstream();
    const good = await upstream([rr.a('www.example.org.', '192.0.2.2')]);
    flaky.fault = { drop: (q) => q.type !== RRType.NS };
    const f = await start(`. {\n forward . ${flaky.addr} ${good.addr} {\n policy sequential\n read_timeout 100ms\n health_check 50ms no_rec domain Probe.Example.\n }\n}\n`);
    assert.deepEqual(addresses(await f.forwardQuery('www.example.org.', RRType.A)), ['192.0.2.2']);
    await sleep(200);
    const probes = flaky.seen('probe.example.', RRType.NS);
    assert.equal(probes.length, 1, 'one probe, answered: the loop stops');
    assert.equal(probes[0]!.rd, false, 'no_rec');

    const quiet = await upstream();
    quiet.fault = { drop: true };
    const g = await start(`. {\n forward . ${quiet.addr} ${good.addr} {\n policy sequential\n read_timeout 100ms\n max_fails 0\n }\n}\n`);
    assert.deepEqual(addresses(await g.forwardQuery('www.example.org.', RRType.A)), ['192.0.2.2']);
    await sleep(200);
    assert.equal(quiet.count('.', RRType.NS), 0);
  });

  it('keep probing while probes fail (at most one in flight)', async () => {
    const dead = await upstream();
    const good = await upstream([rr.a('www.example.org.', '192.0.2.2')]);
    dead.fault = { drop: true };
    const f = await start(`. {\n forward . ${dead.addr} ${good.addr} {\n policy sequential\n read_timeout 100ms\n health_check 10ms\n }\n}\n`);
    await f.forwardQuery('www.example.org.', RRType.A);
    await f.forwardQuery('www.example.org.', RRType.A);
    await sleep(2300);
    // Each probe waits 1s for its reply, then 10ms: two or three probes, never overlapping.
    const probes = dead.seen('.', RRType.NS);
    assert.ok(probes.length >= 2 && probes.length <= 3, `${probes.length} probes`);
    for (let i = 1; i < probes.length; i++) assert.ok(probes[i]!.at - probes[i - 1]!.at >= 1000);
  });
});

describe('sockets', () => {
  it('pipelines TCP queries over a bounded number of connections', async () => {
    const u = await upstream();
    u.fault = { delayMs: 100 };
    const f = await start(`. {\n forward . ${u.addr} {\n force_tcp\n }\n}\n`);
    const replies = await Promise.all(Array.from({ length: 200 }, () => f.forwardQuery('www.example.org.', RRType.A)));
    assert.ok(replies.every((r) => addresses(r)[0] === '192.0.2.1'));
    assert.ok(u.tcpConnections <= TCP_MAX_CONNS, `${u.tcpConnections} connections`);
    assert.ok(u.tcpConnections >= 2);
    // Idle connections are reused.
    const before = u.tcpConnections;
    await f.forwardQuery('www.example.org.', RRType.A);
    assert.equal(u.tcpConnections, before);
  });

  it('asks again on a new connection when a reused TCP connection was closed by the upstream', async () => {
    const u = await upstream();
    u.fault = { closeReusedTcp: true };
    // One attempt per query: only the retry on a fresh connection (CoreDNS's ErrCachedClosed) can save it.
    const f = await start(`. {\n forward . ${u.addr} {\n force_tcp\n max_connect_attempts 1\n }\n}\n`);
    for (let i = 0; i < 3; i++) assert.deepEqual(addresses(await f.forwardQuery('www.example.org.', RRType.A)), ['192.0.2.1']);
    assert.equal(u.tcpConnections, 3);
  });

  it('reuses a UDP socket and moves to a new source port after 1000 queries', async () => {
    const u = await upstream();
    const f = await start(`. {\n forward . ${u.addr}\n}\n`);
    for (let batch = 0; batch < 12; batch++) {
      await Promise.all(Array.from({ length: 100 }, () => f.forwardQuery('www.example.org.', RRType.A)));
    }
    const ports = new Set(u.seen('www.example.org.').map((q) => q.port));
    assert.ok(ports.size >= 2 && ports.size <= UDP_MAX_SOCKETS, `${ports.size} source ports`);
    const ids = u.seen('www.example.org.').map((q) => q.id);
    assert.ok(new Set(ids).size > 1100, 'IDs are random');
  });
});

describe('wire helpers', () => {
  const q = (name: string, type: number, id = 1): Buffer => encodeMessage({ ...emptyHeader(id), rd: true, questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [] });
  const reply = (name: string, type: number, id = 1): Buffer => {
    const b = q(name, type, id);
    b[2] = b[2]! | 0x80;
    return b;
  };

  it('finds the end of the question; undefined when there is no single plain question', () => {
    const w = q('www.example.org.', RRType.A);
    assert.equal(questionEnd(w), 12 + 17 + 4);
    assert.equal(questionEnd(q('.', RRType.NS)), 12 + 1 + 4);
    const compressed = Buffer.concat([w.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    assert.equal(questionEnd(compressed), undefined);
    assert.equal(questionEnd(w.subarray(0, 20)), undefined);
  });

  it('matches a reply to its query: QR, name in any case, exact type and class', () => {
    const query = q('WwW.Example.org.', RRType.HTTPS);
    const end = questionEnd(query)!;
    assert.equal(isReplyTo(reply('www.example.ORG.', RRType.HTTPS), query, end), true);
    assert.equal(isReplyTo(q('www.example.org.', RRType.HTTPS), query, end), false, 'not a response');
    assert.equal(isReplyTo(reply('www.example.net.', RRType.HTTPS), query, end), false);
    // Type 65 is the byte 'A': a case-folding compare would take type 97 for it.
    assert.equal(isReplyTo(reply('www.example.org.', 97), query, end), false);
  });

  it('restores the client ID and question case', () => {
    const query = q('WwW.Example.org.', RRType.A, 7);
    const r = reply('www.example.org.', RRType.A, 999);
    restoreClientView(r, query, questionEnd(query)!, 7);
    assert.equal(r.readUInt16BE(0), 7);
    assert.deepEqual(r.subarray(12), query.subarray(12));
  });
});
