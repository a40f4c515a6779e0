/**
 * TCP resource bounds (src/server/tcp.ts) against the real server: a slowloris holding 1,000
 * connections does not lock other clients out; partial and idle connections are closed by the read
 * and idle timeouts; a client that pipelines queries and never reads its answers does not make the
 * server buffer them; connections all busy with a slow upstream do not lock newcomers out.
 * The timeouts are shortened through CLUSTERDNS_TCP_* (tcpLimitsFromEnv) where a test waits for them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import { buildQuery, sendTcp, sendUdp } from './support/dns-client.js';
import { frame, validQuery } from './fuzz/packets.js';
import { PROBES, rssKiB, startTarget, type Target } from './fuzz/target.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Held {
  sockets: net.Socket[];
  /** Sockets the server closed (the client never closes one on its own). */
  closedByServer: () => number;
  closedAt: number[];
  release: () => void;
}

/**
 * Opens `n` connections and leaves them hanging: a third send one byte of a length prefix, a
 * third a length and half a query, a third nothing at all.
 */
async function slowloris(port: number, n: number): Promise<Held> {
  const sockets: net.Socket[] = [];
  const closedAt: number[] = [];
  let releasing = false;
  const start = Date.now();
  const partial = frame(validQuery(1, 'www.example.org.', RRType.A));
  await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('close', () => {
      if (!releasing) closedAt.push(Date.now() - start);
      resolve();
    });
    s.on('connect', () => {
      if (i % 3 === 0) s.write(partial.subarray(0, 1));
      else if (i % 3 === 1) s.write(partial.subarray(0, 2 + 10));
      resolve();
    });
  })));
  return {
    sockets,
    closedAt,
    closedByServer: () => closedAt.length,
    release: () => {
      releasing = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** Every probe answered correctly over a new TCP connection and over UDP, each within `boundMs`. */
async function probesAnswered(port: number, boundMs: number, rounds = 2): Promise<number> {
  let worst = 0;
  for (let r = 0; r < rounds; r++) {
    for (const p of PROBES) {
      for (const tcp of [true, false]) {
        const start = performance.now();
        const wire = buildQuery(p.name, p.type, { udpSize: 1232 });
        const reply = decodeMessage(tcp ? await sendTcp(port, wire, { timeoutMs: boundMs }) : await sendUdp(port, wire, { timeoutMs: boundMs }));
        assert.equal(p.check(reply), undefined);
        worst = Math.max(worst, performance.now() - start);
      }
    }
  }
  return worst;
}

const openFds = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length;

describe('TCP bounds with the production limits (1,000 connections, 10 s idle, 3 s read)', () => {
  let t: Target;
  before(async () => {
    t = await startTarget();
  });
  after(async () => {
    await t.srv.stop();
  });

  it('keeps answering new TCP and UDP clients while a slowloris holds 1,000 connections', async () => {
    const fdsBefore = openFds(t.pid);
    const held = await slowloris(t.port, 1000);
    await sleep(200);
    assert.ok(openFds(t.pid) >= fdsBefore + 900, `the server took the connections (${openFds(t.pid) - fdsBefore})`);
    // Every newcomer evicts the connection idle the longest: answered at once, no waiting for a timeout.
    const worst = await probesAnswered(t.port, 2000, 3);
    // And it never holds more than the cap (plus the sockets it always has).
    assert.ok(openFds(t.pid) <= fdsBefore + 1000 + 5, `${openFds(t.pid) - fdsBefore} sockets over the idle count`);
    console.log(`slowloris 1000 connections: probes over TCP and UDP answered in at most ${Math.round(worst)} ms; ${held.closedByServer()} slowloris connection(s) evicted to admit ${PROBES.length * 3} TCP newcomers`);
    // At the cap the first newcomer took a slowloris slot (each newcomer leaves after its answer).
    assert.ok(held.closedByServer() >= 1, 'a newcomer was admitted by evicting a slowloris connection');
    assert.ok(held.closedByServer() <= PROBES.length * 3, 'only as many as needed were evicted');
    held.release();
  });
});

describe('TCP timeouts (shortened: idle 1 s, read 500 ms)', () => {
  let t: Target;
  before(async () => {
    t = await startTarget({ env: { CLUSTERDNS_TCP_IDLE_TIMEOUT_MS: '1000', CLUSTERDNS_TCP_READ_TIMEOUT_MS: '500', CLUSTERDNS_TCP_MAX_CONNECTIONS: '100' } });
  });
  after(async () => {
    await t.srv.stop();
  });

  it('closes partial frames after the read timeout and idle connections after the idle timeout', async () => {
    const held = await slowloris(t.port, 90);
    await sleep(2500);
    assert.equal(held.closedByServer(), 90, `${held.closedByServer()} of 90 closed by the server`);
    const partial = held.closedAt.slice().sort((a, b) => a - b);
    // 60 had started a frame (closed at ~0.5 s), 30 sent nothing (closed at ~1 s).
    assert.ok(partial[59]! < 950, `partial frames closed by ${partial[59]} ms`);
    assert.ok(partial[89]! >= 950 && partial[89]! < 2000, `idle connections closed at ${partial[89]} ms`);
  });

  it('does not let a byte-a-while trickle extend the read timeout', async () => {
    const s = net.connect(t.port, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise((r) => s.on('connect', r));
    const q = frame(validQuery(2, 'www.example.org.', RRType.A));
    const start = Date.now();
    let i = 0;
    const trickle = setInterval(() => {
      if (i < q.length && !s.destroyed) s.write(q.subarray(i, ++i));
    }, 100);
    await new Promise((r) => s.on('close', r));
    clearInterval(trickle);
    const ms = Date.now() - start;
    assert.ok(ms < 1200, `closed after ${ms} ms`);
    assert.ok(i < q.length, 'closed before the frame was complete');
  });

  it('stops reading from a client that pipelines queries and never reads the answers', async () => {
    const rss0 = rssKiB(t.pid);
    const s = net.connect(t.port, '127.0.0.1');
    s.pause(); // never read
    s.on('error', () => undefined);
    let closed = false;
    s.on('close', () => { closed = true; });
    await new Promise((r) => s.on('connect', r));
    // 120 addresses: a ~2 KB answer per 34-byte query; 100,000 queries would be 200 MB of answers.
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => frame(validQuery(3, 'big.hosts.test.', RRType.A))));
    let written = 0;
    const end = Date.now() + 4000;
    while (Date.now() < end && !closed) {
      if (!s.write(burst)) {
        await new Promise<void>((r) => {
          const done = (): void => {
            s.off('drain', done);
            clearTimeout(tm);
            r();
          };
          const tm = setTimeout(done, 100);
          s.once('drain', done);
        });
      }
      written += 1000;
    }
    const grown = rssKiB(t.pid) - rss0;
    s.destroy();
    console.log(`non-reading pipeliner: ${written} queries offered, server RSS +${grown} KiB, closed by the server: ${closed}`);
    assert.ok(grown < 30 * 1024, `RSS grew by ${grown} KiB`);
    await probesAnswered(t.port, 2000, 1);
  });

  it('admits a newcomer when every connection is busy with a query to an upstream that never answers', async () => {
    // A zone forwarded to a black hole: every query there stays in flight for the forward deadline.
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const holePort = hole.address().port;
    const srv = await startTarget({
      env: { CLUSTERDNS_TCP_MAX_CONNECTIONS: '50' },
      // prefer_udp: asked over TCP, the forwarder still asks the black hole over UDP (and waits).
      blocks: (port) => `slow.test:${port} {\n    forward . 127.0.0.1:${holePort} {\n        prefer_udp\n    }\n}\n`,
    });
    try {
      const busy: net.Socket[] = [];
      for (let i = 0; i < 50; i++) {
        const s = net.connect(srv.port, '127.0.0.1');
        s.on('error', () => undefined);
        await new Promise((r) => s.on('connect', r));
        s.write(frame(validQuery(i, `q${i}.slow.test.`, RRType.A)));
        busy.push(s);
      }
      await sleep(100);
      await probesAnswered(srv.port, 2000, 1);
      for (const s of busy) s.destroy();
    } finally {
      await srv.srv.stop();
      hole.close();
    }
  });
});
