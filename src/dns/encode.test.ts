import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packet } from 'dns2';
import { decodeMessage } from './decode.js';
import { EncodeError, encodeMessage, encodeTruncated, nameToWire } from './encode.js';
import { emptyHeader, type Message, type ResourceRecord } from './message.js';

const N = 'web.demo.svc.cluster.local.';

function msg(parts: Partial<Message>): Message {
  return { ...emptyHeader(0x4242), questions: [], answers: [], authorities: [], additionals: [], ...parts };
}

function a(name: string, address: string, ttl = 5): ResourceRecord {
  return { name, type: 1, class: 1, ttl, address };
}

const everyType: ResourceRecord[] = [
  a(N, '10.0.0.1'),
  { name: N, type: 28, class: 1, ttl: 5, address: 'fd00::1' },
  { name: N, type: 28, class: 1, ttl: 5, address: '::ffff:1.2.3.4' },
  { name: 'demo.svc.cluster.local.', type: 2, class: 1, ttl: 5, target: 'ns.dns.cluster.local.' },
  { name: 'alias.demo.svc.cluster.local.', type: 5, class: 1, ttl: 5, target: N },
  { name: '1.0.0.10.in-addr.arpa.', type: 12, class: 1, ttl: 5, target: N },
  { name: 'old.cluster.local.', type: 39, class: 1, ttl: 5, target: 'new.cluster.local.' },
  { name: N, type: 15, class: 1, ttl: 5, preference: 10, exchange: 'mail.demo.svc.cluster.local.' },
  { name: `_http._tcp.${N}`, type: 33, class: 1, ttl: 5, priority: 0, weight: 100, port: 8080, target: N },
  { name: N, type: 16, class: 1, ttl: 5, strings: ['v=spf1 -all', '', 'ünïcødé', 'x'.repeat(255)] },
  { name: N, type: 16, class: 1, ttl: 5, strings: [] },
  { name: N, type: 13, class: 1, ttl: 5, cpu: 'x86_64', os: 'Linux "6"' },
  {
    name: 'cluster.local.', type: 6, class: 1, ttl: 5, mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.',
    serial: 0xfffffffe, refresh: 7200, retry: 1800, expire: 86400, minimum: 5,
  },
  { name: N, type: 257, class: 1, ttl: 5, flags: 128, tag: 'issue', value: 'letsencrypt.org; validationmethods=dns-01' },
  { name: N, type: 0xff00, class: 1, ttl: 5, rdata: Uint8Array.from([0, 1, 2, 255]), raw: true },
  { name: N, type: 99, class: 1, ttl: 5, rdata: new Uint8Array(0), raw: true },
  { name: 'version.bind.', type: 16, class: 3, ttl: 0, strings: ['clusterdns'] },
  { name: 'a\\.b\\ c.\\255x.', type: 1, class: 1, ttl: 0x7fffffff, address: '255.255.255.255' },
  { name: '.', type: 2, class: 1, ttl: 0, target: 'a.root-servers.net.' },
];

test('every record type round-trips through encode and decode', () => {
  const m = msg({
    qr: true, opcode: 0, aa: true, rd: true, ra: true, ad: true, cd: true, z: true, rcode: 3,
    questions: [{ name: N, type: 255, class: 1 }],
    answers: everyType.slice(0, 10),
    authorities: everyType.slice(10, 13),
    additionals: everyType.slice(13),
    edns: { udpSize: 1232, version: 0, do: true, options: [{ code: 10, data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }] },
  });
  assert.deepEqual(decodeMessage(encodeMessage(m)), m);
});

test('an independent decoder (dns2 3.1.1) reads our compressed output the same way', () => {
  const m = msg({
    qr: true, rd: true,
    questions: [{ name: N, type: 33, class: 1 }],
    answers: [
      { name: N, type: 33, class: 1, ttl: 5, priority: 0, weight: 50, port: 80, target: `pod-1.${N}` },
      { name: N, type: 33, class: 1, ttl: 5, priority: 0, weight: 50, port: 80, target: `pod-2.${N}` },
    ],
    additionals: [a(`pod-1.${N}`, '10.1.0.1'), a(`pod-2.${N}`, '10.1.0.2'), { name: N, type: 16, class: 1, ttl: 5, strings: ['x'] }],
  });
  const p = Packet.parse(encodeMessage(m)) as unknown as {
    errors?: unknown[];
    answers: { name: string; target: string; port: number }[];
    additionals: { name: string; address?: string; data?: unknown }[];
  };
  assert.deepEqual(p.errors ?? [], []);
  assert.deepEqual(p.answers.map((r) => [r.name, r.target, r.port]), [
    ['web.demo.svc.cluster.local', 'pod-1.web.demo.svc.cluster.local', 80],
    ['web.demo.svc.cluster.local', 'pod-2.web.demo.svc.cluster.local', 80],
  ]);
  assert.deepEqual(p.additionals.slice(0, 2).map((r) => [r.name, r.address]), [
    ['pod-1.web.demo.svc.cluster.local', '10.1.0.1'],
    ['pod-2.web.demo.svc.cluster.local', '10.1.0.2'],
  ]);
});

test('compression: 10 A records for one name take 215 bytes with OPT', () => {
  const m = msg({
    qr: true,
    questions: [{ name: N, type: 1, class: 1 }],
    answers: Array.from({ length: 10 }, (_, i) => a(N, `10.0.0.${i}`)),
    edns: { udpSize: 1232, version: 0, do: false, options: [] },
  });
  const out = encodeMessage(m);
  // 12 header + 28 name + 4 + 10 × (2 pointer + 10 + 4) + 11 OPT
  assert.equal(out.length, 215);
  for (let i = 0; i < 10; i++) assert.equal(out.readUInt16BE(44 + 16 * i), 0xc00c);
});

test('compression matches suffixes case-insensitively and keeps the first spelling', () => {
  const m = msg({
    qr: true,
    questions: [{ name: 'WeB.Demo.SVC.cluster.local.', type: 1, class: 1 }],
    answers: [a(N, '10.0.0.1'), a('other.DEMO.svc.cluster.local.', '10.0.0.2')],
  });
  const out = encodeMessage(m);
  assert.ok(out.includes(Buffer.from('\x03WeB\x04Demo\x03SVC', 'latin1')));
  assert.ok(!out.includes(Buffer.from('demo', 'latin1')));
  const d = decodeMessage(out);
  assert.equal(d.answers[0]!.name, 'WeB.Demo.SVC.cluster.local.');
  assert.equal(d.answers[1]!.name, 'other.Demo.SVC.cluster.local.');
  // escaped spellings of the same bytes share one compression target
  const e = encodeMessage(msg({ questions: [{ name: 'a\\.b.x.', type: 1, class: 1 }, { name: 'A\\046B.X.', type: 1, class: 1 }] }));
  assert.equal(e.length, 12 + 7 + 4 + 2 + 4);
  assert.deepEqual(nameToWire('b\\032c.'), nameToWire('b\\ c.'));
});

test('SRV and DNAME targets are written whole but later names may point into them', () => {
  const m = msg({
    qr: true,
    questions: [{ name: N, type: 33, class: 1 }],
    answers: [{ name: N, type: 33, class: 1, ttl: 5, priority: 0, weight: 0, port: 1, target: N }],
    additionals: [a(`pod.${N}`, '10.0.0.1'), a(`x.pod.${N}`, '10.0.0.2')],
  });
  const out = encodeMessage(m);
  // the SRV target repeats the question name in full instead of a pointer
  assert.equal(out.indexOf(Buffer.from('\x03web\x04demo', 'latin1'), 13), 62);
  const d = decodeMessage(out);
  assert.equal(d.additionals[1]!.name, `x.pod.${N}`);
  assert.equal(out.length, 12 + 32 + (2 + 10 + 6 + 28) + (6 + 10 + 4) + (4 + 10 + 4));
});

test('TXT strings over 255 bytes are split; AAAA of an IPv4-mapped address is correct', () => {
  const long = 'a'.repeat(600);
  const d = decodeMessage(encodeMessage(msg({ answers: [{ name: N, type: 16, class: 1, ttl: 0, strings: [long, 'b'] }] })));
  assert.deepEqual((d.answers[0] as { strings: string[] }).strings, ['a'.repeat(255), 'a'.repeat(255), 'a'.repeat(90), 'b']);
  // 400 bytes of UTF-8 split at a byte boundary: the pieces are not valid UTF-8 alone, so it stays raw
  const utf = decodeMessage(encodeMessage(msg({ answers: [{ name: N, type: 16, class: 1, ttl: 0, strings: ['é'.repeat(200)] }] })));
  const raw = utf.answers[0] as { rdata: Uint8Array; raw: true };
  assert.equal(raw.raw, true);
  assert.equal(raw.rdata.length, 402);
  assert.equal(raw.rdata[0], 255);
  assert.equal(raw.rdata[256], 145);
  const v6 = encodeMessage(msg({ answers: [{ name: '.', type: 28, class: 1, ttl: 0, address: '::ffff:10.1.2.3' }] }));
  assert.deepEqual([...v6.subarray(v6.length - 16)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
});

test('OPT goes last with the extended rcode and DO in its TTL', () => {
  const out = encodeMessage(msg({
    qr: true, rcode: 16, additionals: [a(N, '10.0.0.1')],
    edns: { udpSize: 1232, version: 0, do: true, options: [] },
  }));
  assert.equal(out.readUInt16BE(10), 2);
  assert.equal(out[3]! & 0x0f, 0);
  assert.deepEqual([...out.subarray(out.length - 11)], [0, 0, 41, 0x04, 0xd0, 1, 0, 0x80, 0, 0, 0]);
  assert.equal(decodeMessage(out).rcode, 16);
});

test('invalid names and values throw EncodeError', () => {
  const bad: [Partial<Message>, RegExp][] = [
    [{ questions: [{ name: 'a..b.', type: 1, class: 1 }] }, /empty label/],
    [{ questions: [{ name: '.a.', type: 1, class: 1 }] }, /empty label/],
    [{ questions: [{ name: 'web.demo', type: 1, class: 1 }] }, /not fully qualified/],
    [{ questions: [{ name: '', type: 1, class: 1 }] }, /empty name/],
    [{ questions: [{ name: `${'a'.repeat(64)}.`, type: 1, class: 1 }] }, /longer than 63/],
    [{ questions: [{ name: `${'a.'.repeat(127)}b.`, type: 1, class: 1 }] }, /longer than 255/],
    [{ questions: [{ name: `${'\\065.'.repeat(127)}b.`, type: 1, class: 1 }] }, /longer than 255/],
    [{ questions: [{ name: 'a\\.', type: 1, class: 1 }] }, /not fully qualified/],
    [{ questions: [{ name: 'a\\2.', type: 1, class: 1 }] }, /bad escape/],
    [{ questions: [{ name: N, type: 70000, class: 1 }] }, /question type/],
    [{ answers: [a(N, '10.0.0.256')] }, /not an IPv4 address/],
    [{ answers: [a(N, '10.0.0')] }, /not an IPv4 address/],
    [{ answers: [{ name: N, type: 28, class: 1, ttl: 0, address: '10.0.0.1' }] }, /not an IPv6 address/],
    [{ answers: [{ name: N, type: 28, class: 1, ttl: 0, address: 'fe80::1%eth0' }] }, /not an IPv6 address/],
    [{ answers: [a(N, '10.0.0.1', -1)] }, /TTL/],
    [{ answers: [a(N, '10.0.0.1', 0x80000000)] }, /TTL/],
    [{ answers: [a(N, '10.0.0.1', 1.5)] }, /TTL/],
    [{ answers: [{ name: N, type: 33, class: 1, ttl: 0, priority: 0, weight: 0, port: 65536, target: N }] }, /SRV port/],
    [{ answers: [{ name: N, type: 13, class: 1, ttl: 0, cpu: 'x'.repeat(256), os: '' }] }, /HINFO cpu longer than 255/],
    [{ answers: [{ name: N, type: 257, class: 1, ttl: 0, flags: 0, tag: 'is-sue', value: '' }] }, /CAA tag/],
    [{ answers: [{ name: N, type: 41, class: 1, ttl: 0, rdata: new Uint8Array(0), raw: true }] }, /OPT belongs in msg.edns/],
    [{ answers: [{ name: N, type: 64, class: 1, ttl: 0 } as unknown as ResourceRecord] }, /needs raw RDATA/],
    [{ rcode: 16 }, /needs EDNS/],
    [{ rcode: 4096, edns: { udpSize: 512, version: 0, do: false, options: [] } }, /rcode/],
    [{ opcode: 16 }, /opcode/],
    [{ answers: [{ name: N, type: 16, class: 1, ttl: 0, strings: Array.from({ length: 300 }, () => 'x'.repeat(255)) }] }, /longer than 65535/],
  ];
  for (const [parts, re] of bad) {
    assert.throws(() => encodeMessage(msg(parts)), (e: unknown) => e instanceof EncodeError && re.test(e.message), JSON.stringify(parts).slice(0, 120));
  }
});

test('after an EncodeError the next encode is clean', () => {
  assert.throws(() => encodeMessage(msg({ questions: [{ name: N, type: 1, class: 1 }], answers: [a(N, 'bad')] })), EncodeError);
  const m = msg({ questions: [{ name: 'x.', type: 1, class: 1 }], answers: [a('x.', '1.2.3.4')] });
  assert.deepEqual(decodeMessage(encodeMessage(m)), m);
});

test('nameToWire', () => {
  assert.deepEqual([...nameToWire('Ab.c.')], [2, 0x41, 0x62, 1, 0x63, 0]);
  assert.deepEqual([...nameToWire('.')], [0]);
  assert.throws(() => nameToWire('a..'), EncodeError);
});

function bigAnswer(n: number, edns: boolean, additionals = 0): Message {
  return msg({
    qr: true,
    questions: [{ name: N, type: 1, class: 1 }],
    answers: Array.from({ length: n }, (_, i) => a(N, `10.0.${i >> 8}.${i & 255}`)),
    additionals: Array.from({ length: additionals }, (_, i) => a(`x${i}.${N}`, '10.9.9.9')),
    ...(edns ? { edns: { udpSize: 1232, version: 0, do: true, options: [] } } : {}),
  });
}

test('encodeTruncated returns the plain encoding when it fits', () => {
  const m = bigAnswer(10, true);
  assert.deepEqual(encodeTruncated(m, 1232), encodeMessage(m));
  assert.deepEqual(encodeTruncated(m, 215), encodeMessage(m));
});

test('encodeTruncated drops answers from the end, sets TC, keeps OPT', () => {
  const t = encodeTruncated(bigAnswer(100, false), 512);
  assert.ok(t.length <= 512);
  const d = decodeMessage(t);
  assert.equal(d.tc, true);
  assert.equal(d.answers.length, 29); // (512 - 44) / 16
  assert.equal((d.answers[28] as { address: string }).address, '10.0.0.28');

  const e = decodeMessage(encodeTruncated(bigAnswer(100, true), 1232));
  assert.equal(e.tc, true);
  assert.equal(e.answers.length, 73); // (1232 - 44 - 11) / 16
  assert.equal(e.edns?.do, true);
  assert.equal(e.edns?.udpSize, 1232);
});

test('truncation keeps additionals that fit and sets TC for dropped ones, as miekg/dns does', () => {
  // 10 answers (204 bytes with header and question) + 30 additionals of 19 bytes each (x0.<ptr>)
  const m = bigAnswer(10, true, 30);
  const full = encodeMessage(m);
  assert.ok(full.length > 512);
  const d = decodeMessage(encodeTruncated(m, 512));
  assert.equal(d.answers.length, 10);
  assert.equal(d.additionals.length, Math.floor((512 - 204 - 11) / 19));
  assert.equal(d.tc, true);
  assert.ok(d.edns);
});

test('truncation never exceeds maxSize, even when header, question and OPT alone do not fit', () => {
  const huge = { udpSize: 1232, version: 0, do: false, options: [{ code: 12, data: new Uint8Array(600) }] };
  const m = { ...bigAnswer(3, true), edns: huge };
  const r = encodeTruncated(m, 512);
  assert.ok(r.length <= 512);
  const d = decodeMessage(r);
  assert.equal(d.answers.length, 3);
  assert.deepEqual(d.edns?.options, []);
  assert.equal(d.tc, false); // every record made it; only EDNS options were given up
  for (const size of [12, 20, 44, 50, 55, 60, 300]) {
    const out = encodeTruncated(m, size);
    assert.ok(out.length <= size, `${out.length} > ${size}`);
    decodeMessage(out);
  }
  assert.throws(() => encodeTruncated(m, 11), EncodeError);
  // an existing TC stays
  assert.equal(decodeMessage(encodeTruncated({ ...bigAnswer(1, false), tc: true }, 512)).tc, true);
});

test('truncation of a message larger than 64 KB', () => {
  const m = bigAnswer(5000, true);
  assert.throws(() => encodeMessage(m), /longer than 65535/);
  const d = decodeMessage(encodeTruncated(m, 65535));
  assert.equal(d.tc, true);
  assert.equal(d.answers.length, Math.floor((65535 - 44 - 11) / 16));
});
