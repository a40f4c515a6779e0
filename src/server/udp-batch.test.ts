/**
 * The batched UDP addon through its typed wrapper, on loopback sockets: what a batch callback sees,
 * replies through the out slab and sendOne, truncation, the send queue under a full socket buffer,
 * closing, and taking over (and giving back) a dgram socket. The suite needs the built addon; on
 * CI (CI=true) a missing build is a failure, elsewhere those tests are skipped.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import {
  adoptDgram,
  FLAG_TRUNCATED,
  IN_META,
  loadAddon,
  OUT_META,
  udpBatch,
  type BatchSocket,
} from './udp-batch.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const avail = udpBatch({});
const onCi = process.env.CI === 'true';
const skip = avail.ok ? false : onCi ? false : `addon not available: ${avail.ok ? '' : avail.reason}`;

async function bound(type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
  await new Promise<void>((resolve) => s.bind(0, host, resolve));
  return s;
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

interface Seen {
  data: string;
  family: number;
  port: number;
  address: string;
  flags: number;
  length: number;
}

/**
 * Adopts a fresh socket; every datagram is recorded, and answered "re:<data>" through the out slab
 * unless `reply` says otherwise.
 */
async function server(type: 'udp4' | 'udp6', host: string, o: { slot?: number; reply?: boolean } = {}) {
  if (!avail.ok) throw new Error('no addon');
  const socket = await bound(type, host);
  const seen: Seen[] = [];
  const batches: number[] = [];
  let sock: BatchSocket | undefined;
  const onBatch = (n: number): void => {
    const s = sock!;
    batches.push(n);
    let j = 0;
    for (let i = 0; i < n; i++) {
      const m = i * IN_META;
      const len = s.inMeta[m]!;
      const data = Buffer.from(s.in.buffer, i * s.slot, len).toString('latin1');
      seen.push({ data, family: s.inMeta[m + 2]!, port: s.inMeta[m + 3]!, address: s.address(i), flags: s.inMeta[m + 1]!, length: len });
      if (o.reply === false || s.inMeta[m + 1]! & FLAG_TRUNCATED) continue;
      const r = Buffer.from(`re:${data}`, 'latin1');
      s.out.set(r, j * s.slot);
      s.outMeta[j * OUT_META] = r.length;
      s.outMeta[j * OUT_META + 1] = i;
      j++;
    }
    if (j) s.send(j);
  };
  sock = adoptDgram(avail.addon, socket, onBatch, o.slot ? { slot: o.slot } : {});
  return { socket, sock, seen, batches, port: socket.address().port };
}

async function client(type: 'udp4' | 'udp6', host: string): Promise<{ c: dgram.Socket; got: string[] }> {
  const c = await bound(type, host);
  const got: string[] = [];
  c.on('message', (m) => got.push(m.toString('latin1')));
  return { c, got };
}

describe('udp-batch loader', () => {
  it('reports a missing build, and CLUSTERDNS_UDP_BATCH=0 as disabled', () => {
    const missing = loadAddon('/nonexistent/udp_batch.node');
    assert.equal(missing.ok, false);
    if (!missing.ok) {
      assert.equal(missing.disabled, false);
      assert.match(missing.reason, process.platform === 'linux' ? /not built/ : /not on Linux/);
    }
    const off = udpBatch({ CLUSTERDNS_UDP_BATCH: '0' });
    assert.deepEqual(off, { ok: false, disabled: true, reason: 'CLUSTERDNS_UDP_BATCH=0' });
  });

  it('loads the build on CI', { skip: !onCi }, () => {
    assert.equal(avail.ok, true, avail.ok ? '' : avail.reason);
  });

  it('gives the socket back to dgram when the addon cannot take it', async () => {
    const socket = await bound('udp4', '127.0.0.1');
    const failing = { abi: 3, inMeta: IN_META, outMeta: OUT_META, open: () => { throw new Error('no'); }, mallocTrim: () => false, pageOut: () => 0 };
    assert.throws(() => adoptDgram(failing, socket, () => undefined), /no/);
    const got: string[] = [];
    socket.on('message', (m) => got.push(m.toString()));
    const { c } = await client('udp4', '127.0.0.1');
    c.send('still dgram', socket.address().port, '127.0.0.1');
    await until(() => got.length === 1);
    assert.deepEqual(got, ['still dgram']);
    c.close();
    socket.close();
  });
});

describe('udp-batch socket', { skip }, () => {
  const closers: Array<() => void> = [];
  after(() => closers.forEach((f) => f()));

  it('delivers a batch with lengths, sources and ports, and answers through one send(n)', async () => {
    const s = await server('udp4', '127.0.0.1');
    const { c, got } = await client('udp4', '127.0.0.1');
    closers.push(() => { s.sock.close(); s.socket.close(); c.close(); });
    // The client's datagrams are queued before the loop polls the server: one batch.
    for (let i = 0; i < 20; i++) c.send(`q${i}`, s.port, '127.0.0.1');
    await until(() => got.length === 20);
    assert.deepEqual(got.sort(), Array.from({ length: 20 }, (_, i) => `re:q${i}`).sort());
    assert.equal(s.seen.length, 20);
    for (const x of s.seen) {
      assert.equal(x.family, 4);
      assert.equal(x.address, '127.0.0.1');
      assert.equal(x.port, c.address().port);
      assert.equal(x.flags, 0);
    }
    assert.ok(s.batches.length < 20, `one callback per batch, got ${s.batches.join(',')}`);
    const st = s.sock.stats();
    assert.equal(st.received, 20);
    assert.equal(st.sent, 20);
    assert.equal(st.batches, s.batches.length);
    // The dgram socket is still Node's.
    assert.equal(s.socket.address().port, s.port);
  });

  it('serves IPv6, with the source text as dgram gives it', async () => {
    const s = await server('udp6', '::1');
    const { c, got } = await client('udp6', '::1');
    closers.push(() => { s.sock.close(); s.socket.close(); c.close(); });
    c.send('six', s.port, '::1');
    await until(() => got.length === 1);
    assert.deepEqual(got, ['re:six']);
    assert.equal(s.seen[0]!.family, 6);
    assert.equal(s.seen[0]!.address, '::1');
    assert.equal(s.seen[0]!.port, c.address().port);
  });

  it('flags a datagram longer than a slot as truncated and reads the next one normally', async () => {
    const s = await server('udp4', '127.0.0.1', { slot: 512 });
    const { c, got } = await client('udp4', '127.0.0.1');
    closers.push(() => { s.sock.close(); s.socket.close(); c.close(); });
    c.send(Buffer.alloc(513, 0x61), s.port, '127.0.0.1');
    c.send(Buffer.alloc(65507, 0x62), s.port, '127.0.0.1');
    c.send('small', s.port, '127.0.0.1');
    await until(() => got.length === 1);
    assert.deepEqual(got, ['re:small']);
    assert.deepEqual(s.seen.map((x) => [x.flags & FLAG_TRUNCATED, x.length]), [[1, 512], [1, 512], [0, 5]]);
    assert.equal(s.sock.stats().truncated, 2);
  });

  it('sends later replies with sendOne, and refuses slab sends and addresses outside the callback', async () => {
    const s = await server('udp4', '127.0.0.1', { reply: false });
    const { c, got } = await client('udp4', '127.0.0.1');
    closers.push(() => { s.sock.close(); s.socket.close(); c.close(); });
    c.send('later', s.port, '127.0.0.1');
    await until(() => s.seen.length === 1);
    assert.equal(s.sock.sendOne(Buffer.from('re:later'), s.seen[0]!.address, s.seen[0]!.port), true);
    await until(() => got.length === 1);
    assert.deepEqual(got, ['re:later']);
    assert.throws(() => s.sock.send(1), /only during the batch callback/);
    assert.throws(() => s.sock.address(0), RangeError);
    assert.throws(() => s.sock.sendOne(Buffer.from('x'), 'not-an-ip', 1), /IP literal/);
    assert.throws(() => s.sock.sendOne(Buffer.from('x'), '::1', 1), /IP literal/, 'an IPv6 destination on an IPv4 socket');
    assert.throws(() => s.sock.sendOne(Buffer.from('x'), '127.0.0.1', 70000), RangeError);
    // Longer than any IP literal (with an interface): refused whole, never cut to something that parses.
    assert.throws(() => s.sock.sendOne(Buffer.from('x'), `127.0.0.1${' '.repeat(100)}`, 1), /too long/);
    assert.throws(() => s.sock.sendOne(Buffer.from('x'), `fe80::1%${'e'.repeat(80)}`, 1), /too long/);
    // Methods called on anything but a batch socket: refused (the object is type-tagged).
    const foreign = { ...s.sock };
    assert.throws(() => s.sock.stats.call(foreign), /not a batch socket/);
    assert.throws(() => s.sock.close.call({}), /not a batch socket/);
    assert.throws(() => s.sock.sendOne.call(Object.create(s.sock) as typeof s.sock, Buffer.from('x'), '127.0.0.1', 1), /not a batch socket/);
    assert.equal(s.sock.send(0), 0);
  });

  it('refuses an out-slab reply for a datagram outside the batch, or longer than a slot', async () => {
    assert.ok(avail.ok, 'the addon loads (the describe is skipped otherwise)');
    const socket = await bound('udp4', '127.0.0.1');
    const errors: string[] = [];
    let sock: BatchSocket | undefined;
    sock = adoptDgram(avail.addon, socket, (n) => {
      const s = sock!;
      for (const [len, index] of [[5, n], [s.slot + 1, 0], [-1, 0]] as const) {
        s.outMeta[0] = len;
        s.outMeta[1] = index;
        try {
          s.send(1);
        } catch (err) {
          errors.push((err as Error).name);
        }
      }
      try {
        s.send(s.batch + 1);
      } catch (err) {
        errors.push((err as Error).name);
      }
    });
    const { c } = await client('udp4', '127.0.0.1');
    closers.push(() => { sock!.close(); socket.close(); c.close(); });
    c.send('one', socket.address().port, '127.0.0.1');
    await until(() => errors.length === 4);
    assert.deepEqual(errors, ['RangeError', 'RangeError', 'RangeError', 'RangeError']);
    assert.equal(sock.stats().sent, 0);
  });

  it('queues replies the kernel refuses (EAGAIN) and sends them on POLLOUT, in order', async () => {
    const s = await server('udp4', '127.0.0.1');
    const { c, got } = await client('udp4', '127.0.0.1');
    closers.push(() => { s.sock.close(); s.socket.close(); c.close(); });
    s.sock.simulateWouldBlock(1);
    for (let i = 0; i < 20; i++) c.send(`q${i}`, s.port, '127.0.0.1');
    await until(() => got.length === 20);
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `re:q${i}`), 'queued in order and flushed');
    const st = s.sock.stats();
    assert.equal(st.wouldBlock, 1);
    assert.equal(st.queued, 0);
    assert.equal(st.sent, 20);
  });

  it('drops replies past the queue bound (4096) and still flushes the rest', async () => {
    const s = await server('udp4', '127.0.0.1', { reply: false });
    const { c } = await client('udp4', '127.0.0.1');
    closers.push(() => { s.sock.close(); s.socket.close(); c.close(); });
    s.sock.simulateWouldBlock(1);
    let now = 0;
    // While something is queued every later reply queues behind it, without a system call.
    for (let i = 0; i < 4101; i++) if (s.sock.sendOne(Buffer.from('x'), '127.0.0.1', c.address().port)) now++;
    assert.equal(now, 0);
    assert.equal(s.sock.stats().queued, 4096);
    assert.equal(s.sock.stats().dropped, 5);
    await until(() => s.sock.stats().queued === 0, 5000);
    assert.equal(s.sock.stats().sent, 4096);
  });

  it('close() stops reading at once, is idempotent, and later calls throw', async () => {
    const s = await server('udp4', '127.0.0.1');
    const { c, got } = await client('udp4', '127.0.0.1');
    closers.push(() => c.close());
    s.sock.close();
    s.sock.close();
    assert.throws(() => s.sock.stats(), /closed/);
    assert.throws(() => s.sock.sendOne(Buffer.from('x'), '127.0.0.1', 1), /closed/);
    c.send('nobody reads', s.port, '127.0.0.1');
    await sleep(100);
    assert.deepEqual(got, []);
    assert.equal(s.seen.length, 0);
    s.socket.close();
  });

  it('close() inside the batch callback ends the batch cleanly', async () => {
    assert.ok(avail.ok, 'the addon loads (the describe is skipped otherwise)');
    const socket = await bound('udp4', '127.0.0.1');
    let calls = 0;
    let sock: BatchSocket | undefined;
    sock = adoptDgram(avail.addon, socket, () => {
      calls++;
      sock!.close();
    }, { batch: 1 });
    const { c } = await client('udp4', '127.0.0.1');
    closers.push(() => { socket.close(); c.close(); });
    for (let i = 0; i < 5; i++) c.send('x', socket.address().port, '127.0.0.1');
    await sleep(100);
    assert.equal(calls, 1, 'no callback after close(), though more datagrams were queued');
  });
});
