import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import { emptyHeader, type Message } from './message.js';
import { parseQuery, type ParsedQuery, type QueryReject } from './query-parser.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

const QNAME = '03776562 0464656d6f 03737663 07636c7573746572 056c6f63616c 00'; // web.demo.svc.cluster.local.
const DIG_QUERY = hex(`a1b2 0120 0001 0000 0000 0001 | ${QNAME} 0001 0001 |
  00 0029 04d0 00008000 000c | 000a 0008 0123456789abcdef`);

function accepted(r: ParsedQuery | QueryReject): ParsedQuery {
  assert.ok(!('kind' in r), `rejected: ${JSON.stringify(r)}`);
  return r;
}

function rejected(r: ParsedQuery | QueryReject, kind: string, reason?: RegExp): QueryReject {
  assert.ok('kind' in r, 'accepted');
  assert.equal(r.kind, kind);
  if (reason && r.kind !== 'drop') assert.match(r.reason, reason);
  return r;
}

test('parses a dig query with EDNS, DO and a cookie, and agrees with decodeMessage', () => {
  const q = accepted(parseQuery(DIG_QUERY));
  assert.equal(q.msg.id, 0xa1b2);
  assert.equal(q.msg.rd, true);
  assert.equal(q.msg.ad, true);
  assert.deepEqual(q.msg.questions, [{ name: 'web.demo.svc.cluster.local.', type: 1, class: 1 }]);
  assert.equal(q.msg.edns?.do, true);
  assert.equal(q.msg.edns?.udpSize, 1232);
  assert.deepEqual(q.msg.edns?.options.map((o) => [o.code, Buffer.from(o.data).toString('hex')]), [[10, '0123456789abcdef']]);
  assert.equal(q.nameEnd, 40);
  assert.equal(q.questionEnd, 44);
  assert.equal(q.wire, DIG_QUERY);
  assert.deepEqual(q.msg, decodeMessage(DIG_QUERY));
});

test('a query without EDNS, case kept, escapes as decodeMessage writes them', () => {
  const buf = hex(`0007 0100 0001 0000 0000 0000 | 03 576542 04 612e2042 00 001c 0003`);
  const q = accepted(parseQuery(buf));
  assert.equal(q.msg.edns, undefined);
  assert.deepEqual(q.msg.questions, [{ name: 'WeB.a\\.\\ B.', type: 28, class: 3 }]);
  assert.deepEqual(q.msg, decodeMessage(buf));
  const root = accepted(parseQuery(hex(`0007 0000 0001 0000 0000 0000 | 00 0002 0001`)));
  assert.equal(root.msg.questions[0]!.name, '.');
});

test('drops what must not be answered', () => {
  rejected(parseQuery(hex('0001 0100 0001 0000 0000')), 'drop');
  rejected(parseQuery(Buffer.alloc(0)), 'drop');
  // a response (QR=1), even a well-formed one: answering it could start a loop between servers
  const resp = Buffer.from(DIG_QUERY);
  resp[2]! |= 0x80;
  rejected(parseQuery(resp), 'drop');
});

test('NOTIMP for every opcode but QUERY, before looking at the counts', () => {
  for (const opcode of [1, 2, 3, 4, 5, 6, 15]) {
    const buf = hex(`beef 0000 0000 0001 0000 0000`);
    buf[2] = (opcode << 3) | 0x01;
    const r = rejected(parseQuery(buf), 'notimp');
    assert.ok(r.kind === 'notimp' && r.header.id === 0xbeef && r.header.opcode === opcode && r.header.rd);
  }
});

test('FORMERR with the header for anything but one plain question and an optional OPT', () => {
  const cases: [string, RegExp][] = [
    [`0001 0000 0000 0000 0000 0000`, /QDCOUNT is not 1/],
    [`0001 0000 0002 0000 0000 0000 | 00 0001 0001 | 00 0001 0001`, /QDCOUNT is not 1/],
    [`0001 0000 0001 0001 0000 0000 | 00 0001 0001`, /answer or authority/],
    [`0001 0000 0001 0000 0001 0000 | 00 0001 0001`, /answer or authority/],
    [`0001 0000 0001 0000 0000 0002 | 00 0001 0001`, /more than one additional/],
    [`0001 0000 0001 0000 0000 0000 | c00c 0001 0001`, /compressed question name/],
    [`0001 0000 0001 0000 0000 0000 | 40 00 0001 0001`, /bad label length/],
    [`0001 0000 0001 0000 0000 0000 | 03 6162`, /runs past the end/],
    [`0001 0000 0001 0000 0000 0000 | 01 61`, /runs past the end/],
    [`0001 0000 0001 0000 0000 0000 | 01 61 00 0001`, /question runs past/],
    [`0001 0000 0001 0000 0000 0000 | 01 61 00 0001 0001 00`, /trailing bytes after the question/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 00 0029 0200 00000000`, /additional record runs past/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 01 61 00 0029 0200 00000000 0000`, /not an OPT owned by the root/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | c00c 0029 0200 00000000 0000`, /not an OPT owned by the root/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 00 00fa 00ff 00000000 0000`, /is not an OPT/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 00 0029 0200 00000000 0004 000a`, /OPT RDATA runs past/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 00 0029 0200 00000000 0000 00`, /trailing bytes after the OPT/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 00 0029 0200 00000000 0002 000a`, /option header runs past/],
    [`0001 0000 0001 0000 0000 0001 | 01 61 00 0001 0001 | 00 0029 0200 00000000 0005 000a 0002 00`, /option runs past/],
  ];
  for (const [h, re] of cases) {
    const r = rejected(parseQuery(hex(h)), 'formerr', re);
    assert.ok(r.kind === 'formerr' && r.header.id === 1, h);
  }
});

test('question names up to 255 wire bytes', () => {
  const l63 = '3f' + '61'.repeat(63);
  const ok = hex(`0001 0000 0001 0000 0000 0000 | ${l63}${l63}${l63}3d${'62'.repeat(61)}00 0001 0001`);
  assert.equal(accepted(parseQuery(ok)).nameEnd, 12 + 255);
  const tooLong = hex(`0001 0000 0001 0000 0000 0000 | ${l63}${l63}${l63}3e${'62'.repeat(62)}00 0001 0001`);
  rejected(parseQuery(tooLong), 'formerr', /longer than 255/);
});

test('extended rcode and EDNS version from the OPT', () => {
  const q = accepted(parseQuery(hex(`0001 0000 0001 0000 0000 0001 | 00 0001 0001 | 00 0029 1000 01010000 0000`)));
  assert.equal(q.msg.rcode, 16);
  assert.equal(q.msg.edns?.version, 1);
  assert.equal(q.msg.edns?.do, false);
});

// ---------------------------------------------------------------------------------------------
// Robustness: random and mutated packets through both parsers.

/** xorshift32: deterministic, so a failure names the seed that reproduces it. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function seeds(): Buffer[] {
  const N = 'web.demo.svc.cluster.local.';
  const base = (parts: Partial<Message>): Message => ({
    ...emptyHeader(7), questions: [], answers: [], authorities: [], additionals: [], ...parts,
  });
  return [
    DIG_QUERY,
    hex(`0007 0100 0001 0000 0000 0000 | 03 576542 04 612e2042 00 001c 0003`),
    encodeMessage(base({
      qr: true, aa: true, questions: [{ name: N, type: 33, class: 1 }],
      answers: [
        { name: N, type: 33, class: 1, ttl: 5, priority: 0, weight: 10, port: 80, target: `p.${N}` },
        { name: N, type: 5, class: 1, ttl: 5, target: `x.${N}` },
        { name: N, type: 16, class: 1, ttl: 5, strings: ['a', 'bc'] },
        { name: N, type: 15, class: 1, ttl: 5, preference: 1, exchange: `m.${N}` },
      ],
      authorities: [{
        name: 'cluster.local.', type: 6, class: 1, ttl: 5, mname: 'ns.dns.cluster.local.', rname: 'h.cluster.local.',
        serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5,
      }],
      additionals: [
        { name: `p.${N}`, type: 1, class: 1, ttl: 5, address: '10.0.0.1' },
        { name: `p.${N}`, type: 28, class: 1, ttl: 5, address: 'fd00::1' },
        { name: N, type: 257, class: 1, ttl: 5, flags: 0, tag: 'issue', value: 'ca' },
        { name: N, type: 13, class: 1, ttl: 5, cpu: 'c', os: 'o' },
        { name: N, type: 1234, class: 1, ttl: 5, rdata: Uint8Array.from([1, 2]), raw: true },
      ],
      edns: { udpSize: 1232, version: 0, do: true, options: [{ code: 10, data: new Uint8Array(8) }] },
    })),
    // a pointer loop and a pointer chain
    hex(`0001 0000 0002 0000 0000 0000 | 01 61 c012 0001 0001 | 01 62 c00c 0001 0001`),
    hex(`0001 0000 0001 0000 0000 0000 | 01 61 00 0001 0001 | c00c c00e c010 c012 0001 0001`),
  ];
}

function mutate(src: Buffer, r: () => number): Buffer {
  const buf = Buffer.from(src);
  const kind = r() % 8;
  switch (kind) {
    case 0: // bit flips
      for (let i = 1 + (r() % 4); i > 0; i--) buf[r() % buf.length]! ^= 1 << (r() % 8);
      return buf;
    case 1: // random bytes overwritten
      for (let i = 1 + (r() % 4); i > 0; i--) buf[r() % buf.length] = r() & 0xff;
      return buf;
    case 2: // truncation
      return buf.subarray(0, r() % buf.length);
    case 3: // a compression pointer planted anywhere, pointing anywhere
      if (buf.length > 13) buf.writeUInt16BE(0xc000 | (r() % buf.length), 12 + (r() % (buf.length - 13)));
      return buf;
    case 4: // huge or shuffled counts
      if (buf.length >= 12) buf.writeUInt16BE(r() % 2 === 0 ? 0xffff : r() & 0xffff, 4 + 2 * (r() % 4));
      return buf;
    case 5: { // bytes appended
      const extra = Buffer.alloc(1 + (r() % 40));
      for (let i = 0; i < extra.length; i++) extra[i] = r() & 0xff;
      return Buffer.concat([buf, extra]);
    }
    case 6: { // a region duplicated (repeated records, labels)
      const a = r() % buf.length;
      const b = a + (r() % (buf.length - a));
      return Buffer.concat([buf.subarray(0, b), buf.subarray(a, b), buf.subarray(b)]);
    }
    default: { // fully random packet
      const out = Buffer.alloc(r() % 600);
      for (let i = 0; i < out.length; i++) out[i] = r() & 0xff;
      if (out.length >= 12 && r() % 2 === 0) out[2]! &= 0x7f;
      return out;
    }
  }
}

function lowerNames(m: Message): Message {
  const nameFields = new Set(['name', 'target', 'exchange', 'mname', 'rname']);
  const low = <T extends object>(o: T): T =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, nameFields.has(k) && typeof v === 'string' ? v.toLowerCase() : v])) as T;
  return {
    ...m, questions: m.questions.map(low), answers: m.answers.map(low), authorities: m.authorities.map(low), additionals: m.additionals.map(low),
  };
}

test('200,000 random and mutated packets: only DecodeError, parsers agree, bounded time', () => {
  const seed = Number(process.env.CODEC_FUZZ_SEED ?? 0x5eed);
  const r = rng(seed);
  const corpus = seeds();
  let decoded = 0;
  let acceptedQueries = 0;
  let worstNs = 0n;
  let worstBuf: Buffer = Buffer.alloc(0);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 200_000; i++) {
    let buf = corpus[r() % corpus.length]!;
    for (let k = 1 + (r() % 3); k > 0 && buf.length > 0; k--) buf = mutate(buf, r);
    const where = `seed ${seed} packet ${i}: ${buf.toString('hex')}`;
    const t = process.hrtime.bigint();
    let msg: Message | undefined;
    try {
      msg = decodeMessage(buf);
      decoded++;
    } catch (e) {
      if (!(e instanceof DecodeError)) assert.fail(`${String(e)} for ${where}`);
    }
    const parsed = parseQuery(buf);
    const dt = process.hrtime.bigint() - t;
    if (dt > worstNs) {
      worstNs = dt;
      worstBuf = buf;
    }
    if (!('kind' in parsed)) {
      acceptedQueries++;
      assert.ok(msg, `parseQuery accepted what decodeMessage rejected: ${where}`);
      assert.deepEqual(parsed.msg, msg, where);
    } else if (parsed.kind === 'drop') {
      assert.ok(buf.length < 12 || (buf[2]! & 0x80) !== 0, where);
    }
    if (msg) {
      // Whatever the decoder returns can be encoded again and reads back the same, up to the case
      // of names: compression matches case-insensitively and keeps the first spelling.
      assert.deepEqual(lowerNames(decodeMessage(encodeMessage(msg))), lowerNames(msg), where);
    }
  }
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // Sanity of the corpus itself: the mutations must exercise both outcomes.
  assert.ok(decoded > 5_000, `only ${decoded} packets decoded`);
  assert.ok(acceptedQueries > 1_000, `only ${acceptedQueries} queries accepted`);
  assert.ok(totalMs < 60_000, `${totalMs} ms in all`);
  // The slowest packet is timed again, best of 5: a shared machine can stall any one packet.
  let again = Infinity;
  for (let k = 0; k < 5; k++) {
    const t = process.hrtime.bigint();
    try {
      decodeMessage(worstBuf);
    } catch {
      // only the time matters here
    }
    parseQuery(worstBuf);
    again = Math.min(again, Number(process.hrtime.bigint() - t) / 1e6);
  }
  assert.ok(again < 50, `worst packet took ${again} ms (first run ${Number(worstNs) / 1e6} ms): ${worstBuf.toString('hex')}`);
});
