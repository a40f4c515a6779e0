/**
 * Server core end to end: the real CLI on loopback, asked by real clients (our raw client, Node's
 * c-ares Resolver, dig when installed).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import { buildQuery, query, sendTcpFrames, sendUdp } from './support/dns-client.js';
import { dig, hasDig } from './support/dig.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';

const manyHosts = Array.from({ length: 100 }, (_, i) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1} big.example.org`).join('\n');

describe('serving', () => {
  let srv: ServerProcess;
  let port: number;
  let readyPort: number;
  before(async () => {
    port = await freePort();
    readyPort = await freePort();
    srv = await startServer(
      `# routing: the longest zone wins
example.org {
    hosts hosts.txt
}
who.example.org {
    whoami
}
test.:${port} {
    whoami
    ready 127.0.0.1:${readyPort}
}
`,
      { args: ['-dns.port', String(port)], files: { 'hosts.txt': `192.0.2.1 www.example.org\n2001:db8::1 www.example.org\n${manyHosts}\n` } },
    );
  });
  after(async () => {
    await srv.stop();
  });

  it('announces its zones and ports like CoreDNS', () => {
    assert.match(srv.stdout(), new RegExp(`^example\\.org\\.:${port}$`, 'm'));
    assert.match(srv.stdout(), new RegExp(`^who\\.example\\.org\\.:${port}$`, 'm'));
  });

  it('answers A and AAAA from the hosts plugin over UDP, keeping the question case', async () => {
    const r = await query(port, 'WwW.Example.ORG.', RRType.A);
    assert.equal(r.rcode, Rcode.NOERROR);
    assert.equal(r.qr, true);
    assert.equal(r.aa, true);
    assert.equal(r.questions[0]!.name, 'WwW.Example.ORG.');
    assert.deepEqual(r.answers.map((a) => ('address' in a ? a.address : '')), ['192.0.2.1']);
    const r6 = await query(port, 'www.example.org.', RRType.AAAA, { tcp: true });
    assert.deepEqual(r6.answers.map((a) => ('address' in a ? a.address : '')), ['2001:db8::1']);
  });

  it('routes to the longest matching zone and refuses names outside every zone', async () => {
    const who = await query(port, 'x.who.example.org.', RRType.A);
    assert.equal(who.answers.length, 0);
    assert.equal(who.additionals.find((r) => r.type === RRType.A && 'address' in r)?.name, 'x.who.example.org.');
    const refused = await query(port, 'example.com.', RRType.A);
    assert.equal(refused.rcode, Rcode.REFUSED);
    assert.equal(refused.questions[0]!.name, 'example.com.');
  });

  it('is answered through c-ares (Node dns.Resolver)', async () => {
    const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    assert.deepEqual(await r.resolve4('www.example.org'), ['192.0.2.1']);
    assert.deepEqual(await r.resolve6('www.example.org'), ['2001:db8::1']);
    await assert.rejects(r.resolve4('nothere.example.com'), { code: 'EREFUSED' });
  });

  it('replies with OPT only when the query had one, and honours the advertised size', async () => {
    const plain = await query(port, 'www.example.org.', RRType.A);
    assert.equal(plain.edns, undefined);
    const withEdns = await query(port, 'www.example.org.', RRType.A, { udpSize: 4096, do: true });
    assert.ok(withEdns.edns);
    assert.equal(withEdns.edns.do, true);
  });

  it('truncates at 512 without EDNS and at the capped EDNS size, sets TC, and answers in full over TCP', async () => {
    const noEdns = await query(port, 'big.example.org.', RRType.A);
    assert.equal(noEdns.tc, true);
    assert.ok(noEdns.size <= 512, `size ${noEdns.size}`);
    const small = await query(port, 'big.example.org.', RRType.A, { udpSize: 1000 });
    assert.equal(small.tc, true);
    assert.ok(small.size <= 1000);
    assert.ok(small.edns, 'OPT kept in a truncated reply');
    const huge = await query(port, 'big.example.org.', RRType.A, { udpSize: 65000 });
    assert.ok(huge.size <= 1232, `UDP replies are capped at 1232, got ${huge.size}`);
    const tcp = await query(port, 'big.example.org.', RRType.A, { tcp: true });
    assert.equal(tcp.tc, false);
    assert.equal(tcp.answers.length, 100);
  });

  it('answers several pipelined queries on one TCP connection', async () => {
    const frames = Array.from({ length: 10 }, (_, i) => buildQuery('www.example.org.', RRType.A, { id: 1000 + i }));
    const replies = await sendTcpFrames(port, frames, 10);
    assert.deepEqual(replies.map((r) => r.readUInt16BE(0)).sort(), frames.map((f) => f.readUInt16BE(0)).sort());
  });

  it('answers FORMERR to a malformed query with a readable header, NOTIMP to other opcodes, and ignores responses', async () => {
    const bad = buildQuery('www.example.org.', RRType.A, { id: 4242 });
    bad.writeUInt16BE(2, 4); // QDCOUNT 2 with one question present
    const r = decodeMessage(await sendUdp(port, bad));
    assert.equal(r.id, 4242);
    assert.equal(r.rcode, Rcode.FORMERR);
    const notify = decodeMessage(await sendUdp(port, buildQuery('www.example.org.', RRType.SOA, { id: 7, opcode: 2 })));
    assert.equal(notify.rcode, Rcode.NOTIMP);
    const response = buildQuery('www.example.org.', RRType.A, { id: 9 });
    response[2] = response[2]! | 0x80;
    await assert.rejects(sendUdp(port, response, { timeoutMs: 300 }), /timed out/);
  });

  it('survives a burst of random datagrams and answers correctly afterwards', async () => {
    const s = dgram.createSocket('udp4');
    for (let i = 0; i < 5000; i++) {
      const len = 1 + Math.floor(Math.random() * 600);
      const junk = Buffer.alloc(len);
      for (let j = 0; j < len; j++) junk[j] = Math.floor(Math.random() * 256);
      junk[2] = junk[2]! & 0x7f; // mostly "queries", so the parser is exercised rather than the QR drop
      s.send(junk, port, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 200));
    s.close();
    const r = await query(port, 'www.example.org.', RRType.A);
    assert.deepEqual(r.answers.map((a) => ('address' in a ? a.address : '')), ['192.0.2.1']);
    assert.equal(srv.proc.exitCode, null);
  });

  it('drops a bad TCP frame and answers the correct one after it on the same connection', async () => {
    const good = buildQuery('www.example.org.', RRType.A, { id: 31337 });
    const garbage = Buffer.from([1, 2, 3, 4, 5]);
    const formerr = Buffer.alloc(40, 0xff);
    formerr.writeUInt16BE(555, 0);
    formerr[2] = 0x01; // a query, opcode 0, RD; then junk counts
    const replies = await sendTcpFrames(port, [garbage, formerr, good], 2);
    const decoded = replies.map((b) => decodeMessage(b));
    assert.equal(decoded.find((m) => m.id === 555)?.rcode, Rcode.FORMERR);
    const answer = decoded.find((m) => m.id === 31337);
    assert.ok(answer);
    assert.equal(answer.rcode, Rcode.NOERROR);
  });

  it('serves /ready', async () => {
    const res = await fetch(`http://127.0.0.1:${readyPort}/ready`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'OK');
  });

  it('is understood by dig', { skip: !hasDig && 'dig not installed' }, async () => {
    const out = await dig(port, ['www.example.org', 'A', '+noall', '+answer']);
    assert.match(out, /www\.example\.org\.\s+3600\s+IN\s+A\s+192\.0\.2\.1/);
    const tc = await dig(port, ['big.example.org', 'A', '+bufsize=1232', '+ignore']);
    assert.match(tc, /flags: qr aa rd ra tc;|flags:.* tc/);
    const viaTcp = await dig(port, ['big.example.org', 'A', '+tcp', '+short']);
    assert.equal(viaTcp.trim().split('\n').length, 100);
  });
});

describe('Corefile errors', () => {
  const cases: Array<{ name: string; corefile: string; expect: RegExp }> = [
    { name: 'unknown directive names its line', corefile: '. {\n    whoami\n    frobnicate\n}\n', expect: /Corefile:3 - .*unknown directive 'frobnicate'/ },
    { name: 'unclosed block', corefile: '. {\n    whoami\n', expect: /Corefile:\d+ - / },
    { name: 'bad plugin argument names the plugin', corefile: 'example.org {\n    whoami\n    health :8080 extra\n}\n', expect: /Corefile:3 - .*plugin\/health/ },
    { name: 'bad lameduck duration', corefile: 'example.org {\n    health {\n        lameduck forever\n    }\n}\n', expect: /Corefile:3 - / },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const srv = await startServer(c.corefile, { noWait: true, args: ['-dns.port', String(await freePort())] });
      const code = await srv.exited;
      assert.equal(code, 1);
      assert.match(srv.stderr(), c.expect);
      assert.doesNotMatch(srv.stdout(), /clusterdns-\d/, 'nothing started');
    });
  }

  it('exits non-zero when the port is taken', async () => {
    const port = await freePort();
    const blocker = dgram.createSocket('udp4');
    await new Promise<void>((r) => blocker.bind(port, '0.0.0.0', () => r()));
    const srv = await startServer(`.:${port} {\n    whoami\n}\n`, { noWait: true });
    assert.equal(await srv.exited, 1);
    assert.match(srv.stderr(), new RegExp(`${port}`));
    blocker.close();
  });
});

describe('lifecycle', () => {
  it('keeps answering during lameduck after SIGTERM, turns /ready 503, then exits 0', async () => {
    const port = await freePort();
    const healthPort = await freePort();
    const readyPort = await freePort();
    const srv = await startServer(`.:${port} {\n    whoami\n    health 127.0.0.1:${healthPort} {\n        lameduck 1500ms\n    }\n    ready 127.0.0.1:${readyPort}\n}\n`);
    assert.equal((await fetch(`http://127.0.0.1:${healthPort}/health`)).status, 200);
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const r = await query(port, 'anything.', RRType.A);
    assert.equal(r.rcode, Rcode.NOERROR);
    assert.equal((await fetch(`http://127.0.0.1:${readyPort}/ready`)).status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${healthPort}/health`)).status, 200);
    const code = await srv.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 >= 1400, `exited after ${Date.now() - t0} ms, before the lameduck time`);
  });

  it('prints its version and plugins', async () => {
    const v = await startServer('', { noWait: true, args: ['-version'] });
    assert.equal(await v.exited, 0);
    assert.match(v.stdout(), /^clusterdns-\d+\.\d+\.\d+/);
    const p = await startServer('', { noWait: true, args: ['-plugins'] });
    assert.equal(await p.exited, 0);
    assert.match(p.stdout(), /dns\.whoami/);
    assert.match(p.stdout(), /dns\.hosts/);
  });
});
