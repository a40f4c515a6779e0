/**
 * Codec throughput, ours against dns2 3.1.1: `node --import tsx bench/codec.ts [--dos]`.
 * Each case runs 7 rounds of ~300 ms of CPU time after a warm-up and reports the median ops per
 * CPU-second (the spread of the rounds is printed too). `--dos` also times dns2 on the
 * 65 KB pointer-chain packet, which takes it seconds.
 */
import { Packet, type Question as Dns2Question, type Resource as Dns2Resource } from 'dns2';
import { decodeMessage, DecodeError } from '../src/dns/decode.js';
import { encodeMessage } from '../src/dns/encode.js';
import { emptyHeader, type Message } from '../src/dns/message.js';
import { parseQuery, type ParsedQuery } from '../src/dns/query-parser.js';
import { instantiate, makeTemplate } from '../src/dns/wire-template.js';

const NAME = 'web.demo.svc.cluster.local.';

// dig web.demo.svc.cluster.local (BIND 9.18): RD+AD, EDNS 1232, an 8-byte client cookie.
const DIG_QUERY = Buffer.from(
  'a1b2012000010000000000010377656204646' + '56d6f0373766307636c7573746572056c6f63616c0000010001' +
    '00002904d000000000000c000a00080123456789abcdef',
  'hex',
);

function reply(answers: number, edns: boolean): Message {
  const m: Message = {
    ...emptyHeader(0xa1b2), qr: true, aa: true, rd: true, ra: true,
    questions: [{ name: NAME, type: 1, class: 1 }],
    answers: Array.from({ length: answers }, (_, i) => ({ name: NAME, type: 1, class: 1, ttl: 5, address: `10.0.0.${i + 1}` })),
    authorities: [], additionals: [],
  };
  if (edns) m.edns = { udpSize: 1232, version: 0, do: false, options: [] };
  return m;
}

/** The same reply as a dns2 Packet. */
function dns2Reply(answers: number, edns: boolean): InstanceType<typeof Packet> {
  const p = new Packet();
  p.header.id = 0xa1b2;
  p.header.qr = 1;
  p.header.aa = 1;
  p.header.rd = 1;
  p.header.ra = 1;
  // dns2's typings want methods its encoder does not use; plain objects are what its docs show.
  p.questions.push({ name: NAME.slice(0, -1), type: Packet.TYPE.A, class: Packet.CLASS.IN } as unknown as Dns2Question);
  for (let i = 0; i < answers; i++) {
    p.answers.push({ name: NAME.slice(0, -1), type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 5, address: `10.0.0.${i + 1}` } as Dns2Resource);
  }
  if (edns) p.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 1232 }));
  return p;
}

let sink = 0;

/**
 * Rates are ops per CPU-second of this process (user + system), not per wall-clock second: on a
 * shared 2-vCPU box, time spent descheduled would otherwise show up as a slower codec.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function measure(fn: () => unknown): { median: number; min: number; max: number } {
  const roundMs = 300;
  let batch = 1000;
  // warm-up, and size a batch so the clock is read rarely
  const w0 = performance.now();
  while (performance.now() - w0 < 200) for (let i = 0; i < batch; i++) sink ^= fn() === undefined ? 1 : 0;
  const rates: number[] = [];
  for (let r = 0; r < 7; r++) {
    let ops = 0;
    const t0 = cpuMs();
    let t = t0;
    while (t - t0 < roundMs) {
      for (let i = 0; i < batch; i++) sink ^= fn() === undefined ? 1 : 0;
      ops += batch;
      t = cpuMs();
    }
    rates.push((ops / (t - t0)) * 1000);
    if (r === 0) batch = Math.max(100, Math.round(rates[0]! / 1000));
  }
  rates.sort((a, b) => a - b);
  return { median: rates[3]!, min: rates[0]!, max: rates[6]! };
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${Math.round(n / 1e3)}k`;
}

function row(label: string, ours: () => unknown, theirs?: () => unknown): void {
  const a = measure(ours);
  const b = theirs ? measure(theirs) : undefined;
  const ratio = b ? `${(a.median / b.median).toFixed(1)}×` : '';
  console.log(
    `| ${label.padEnd(44)} | ${fmt(a.median).padStart(6)} (${fmt(a.min)}–${fmt(a.max)}) | ${
      b ? `${fmt(b.median).padStart(6)} (${fmt(b.min)}–${fmt(b.max)})` : '—'.padStart(6)
    } | ${ratio.padStart(6)} |`,
  );
}

/**
 * The DoS case: a 65 KB message whose first record hides a chain of 31 pointer-linked 1-byte
 * labels in its RDATA, followed by ~5,400 records whose owner names each walk the whole chain
 * (32 hops, the most we allow, so every name decodes).
 */
function pointerChainPacket(): Buffer {
  const base = 12 + 11;
  const chain: number[] = [1, 0x61, 0];
  let prev = base;
  for (let i = 1; i < 32; i++) {
    const here = base + chain.length;
    chain.push(1, 0x61, 0xc0 | (prev >> 8), prev & 0xff);
    prev = here;
  }
  const records = 1 + Math.floor((65535 - base - chain.length) / 12);
  const buf = Buffer.alloc(base + chain.length + (records - 1) * 12);
  buf.writeUInt16BE(records, 6);
  buf.writeUInt16BE(0xff00, 13);
  buf.writeUInt16BE(1, 15);
  buf.writeUInt16BE(chain.length, 21);
  buf.set(chain, base);
  for (let p = base + chain.length; p < buf.length; p += 12) {
    buf.writeUInt16BE(0xc000 | prev, p);
    buf.writeUInt16BE(0xff00, p + 2);
    buf.writeUInt16BE(1, p + 4);
  }
  return buf;
}

/**
 * The packet that cost dns2 seconds in CODEC-NOTES: ~16,000 bare pointers each pointing at the
 * previous one, then ~2,700 records whose names enter the chain at its far end. Without a hop
 * limit every name walks all of it; we refuse the first name at its 33rd hop.
 */
function deepChainPacket(): Buffer {
  const base = 12 + 11;
  const pointers = 16000;
  const rdlen = 3 + 2 * pointers;
  const records = 1 + Math.floor((65535 - base - rdlen) / 12);
  const buf = Buffer.alloc(base + rdlen + (records - 1) * 12);
  buf.writeUInt16BE(records, 6);
  buf.writeUInt16BE(0xff00, 13);
  buf.writeUInt16BE(1, 15);
  buf.writeUInt16BE(rdlen, 21);
  buf[base] = 1;
  buf[base + 1] = 0x61;
  let prev = base;
  let p = base + 3;
  for (let i = 0; i < pointers; i++) {
    // Offsets above 0x3fff cannot be pointer targets; keep the chain below that line.
    buf.writeUInt16BE(0xc000 | Math.min(prev, 0x3fff), p);
    prev = p;
    p += 2;
  }
  for (; p < buf.length; p += 12) {
    buf.writeUInt16BE(0xc000 | Math.min(prev, 0x3fff), p);
    buf.writeUInt16BE(0xff00, p + 2);
    buf.writeUInt16BE(1, p + 4);
  }
  return buf;
}

function main(): void {
  // The two encoders must produce the same message before their speed means anything.
  for (const [n, e] of [[1, true], [10, false]] as const) {
    const ours = decodeMessage(encodeMessage(reply(n, e)));
    const theirs = decodeMessage(dns2Reply(n, e).toBuffer());
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) throw new Error(`encoders disagree for ${n} answers`);
  }
  const parsed = parseQuery(DIG_QUERY);
  if ('kind' in parsed) throw new Error('the dig query did not parse');
  const q: ParsedQuery = parsed;
  const template = makeTemplate(reply(1, false));
  if (!instantiate(template, q).equals(encodeMessage(reply(1, true)))) throw new Error('template and encoder disagree');

  const one = reply(1, true);
  const ten = reply(10, false);
  const dOne = dns2Reply(1, true);
  const dTen = dns2Reply(10, false);
  const tenWire = encodeMessage(ten);

  console.log(`Node ${process.version}, ${new Date().toISOString().slice(0, 10)}; ops per CPU-second, median of 7 rounds (min–max)\n`);
  console.log(`| ${'case'.padEnd(44)} | ${'clusterdns'.padEnd(20)} | ${'dns2 3.1.1'.padEnd(20)} | ratio  |`);
  console.log(`|${'-'.repeat(46)}|${'-'.repeat(22)}|${'-'.repeat(22)}|--------|`);
  row('decode dig query (decodeMessage)', () => decodeMessage(DIG_QUERY), () => Packet.parse(DIG_QUERY));
  row('decode dig query (parseQuery, hot path)', () => parseQuery(DIG_QUERY), () => Packet.parse(DIG_QUERY));
  row('encode 1 A + OPT', () => encodeMessage(one), () => dOne.toBuffer());
  row('encode 10 A (one name, compressed)', () => encodeMessage(ten), () => dTen.toBuffer());
  row('decode 10 A answer', () => decodeMessage(tenWire), () => Packet.parse(tenWire));
  row('instantiate template (1 A, query has EDNS)', () => instantiate(template, q), () => dOne.toBuffer());
  row('parseQuery + instantiate (full cycle)', () => {
    const p = parseQuery(DIG_QUERY);
    return 'kind' in p ? undefined : instantiate(template, p);
  }, () => {
    const req = Packet.parse(DIG_QUERY);
    const res = Packet.createResponseFromRequest(req);
    res.answers.push({ name: NAME.slice(0, -1), type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 5, address: '10.0.0.1' } as Dns2Resource);
    res.additionals.push(Packet.Resource.EDNS([], { udpPayloadSize: 1232 }));
    return res.toBuffer();
  });

  const chain = pointerChainPacket();
  const decoded = decodeMessage(chain).answers.length;
  const times: number[] = [];
  for (let i = 0; i < 51; i++) {
    const t0 = performance.now();
    decodeMessage(chain);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`\n65 KB pointer-chain packet (${decoded} names × 32 hops): decodeMessage ${times[25]!.toFixed(2)} ms median of 51`);
  const deep = deepChainPacket();
  const t2 = performance.now();
  try {
    decodeMessage(deep);
    throw new Error('the deep chain decoded');
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
  console.log(`65 KB deep-chain packet (16,000 bare pointers): decodeMessage refuses it in ${(performance.now() - t2).toFixed(3)} ms`);
  if (process.argv.includes('--dos')) {
    let t1 = performance.now();
    Packet.parse(chain);
    console.log(`65 KB pointer-chain packet: dns2 Packet.parse ${(performance.now() - t1).toFixed(0)} ms`);
    t1 = performance.now();
    Packet.parse(deep);
    console.log(`65 KB deep-chain packet: dns2 Packet.parse ${(performance.now() - t1).toFixed(0)} ms`);
  }
  if (sink === 42) console.log('');
}

main();
