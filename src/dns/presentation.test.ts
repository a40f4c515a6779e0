import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import { emptyHeader, type ResourceRecord } from './message.js';
import { parseRdata, parseRR, parseTtl, rrToString, RRParseError, tokenizeRR } from './presentation.js';

const N = 'web.demo.svc.cluster.local.';

// Each line as miekg/dns RR.String() prints it (and so as CoreDNS test cases are written).
const printed: [ResourceRecord, string][] = [
  [{ name: N, type: 1, class: 1, ttl: 5, address: '10.0.0.1' }, `${N}\t5\tIN\tA\t10.0.0.1`],
  [{ name: N, type: 28, class: 1, ttl: 5, address: 'FD00:0:0::1' }, `${N}\t5\tIN\tAAAA\tfd00::1`],
  [{ name: N, type: 28, class: 1, ttl: 5, address: '::ffff:1.2.3.4' }, `${N}\t5\tIN\tAAAA\t::ffff:1.2.3.4`],
  [{ name: 'cluster.local.', type: 2, class: 1, ttl: 5, target: 'ns.dns.cluster.local.' }, 'cluster.local.\t5\tIN\tNS\tns.dns.cluster.local.'],
  [{ name: N, type: 5, class: 1, ttl: 5, target: 'example.com.' }, `${N}\t5\tIN\tCNAME\texample.com.`],
  [{ name: '1.0.0.10.in-addr.arpa.', type: 12, class: 1, ttl: 5, target: N }, `1.0.0.10.in-addr.arpa.\t5\tIN\tPTR\t${N}`],
  [{ name: 'a.example.', type: 39, class: 1, ttl: 60, target: 'b.example.' }, 'a.example.\t60\tIN\tDNAME\tb.example.'],
  [{ name: N, type: 15, class: 1, ttl: 5, preference: 10, exchange: 'mx.example.' }, `${N}\t5\tIN\tMX\t10 mx.example.`],
  [
    { name: `_http._tcp.${N}`, type: 33, class: 1, ttl: 5, priority: 0, weight: 100, port: 80, target: N },
    `_http._tcp.${N}\t5\tIN\tSRV\t0 100 80 ${N}`,
  ],
  [
    { name: N, type: 16, class: 1, ttl: 5, strings: ['v=spf1 -all', 'say "hi"', 'back\\slash', 'tab\there', 'é', ''] },
    `${N}\t5\tIN\tTXT\t"v=spf1 -all" "say \\"hi\\"" "back\\\\slash" "tab\\009here" "\\195\\169" ""`,
  ],
  [{ name: 'version.bind.', type: 16, class: 3, ttl: 0, strings: ['clusterdns-0.1.0'] }, 'version.bind.\t0\tCH\tTXT\t"clusterdns-0.1.0"'],
  [{ name: N, type: 13, class: 1, ttl: 5, cpu: 'RFC8482', os: '' }, `${N}\t5\tIN\tHINFO\t"RFC8482" ""`],
  [
    {
      name: 'cluster.local.', type: 6, class: 1, ttl: 5, mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.',
      serial: 1700000000, refresh: 7200, retry: 1800, expire: 86400, minimum: 5,
    },
    'cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5',
  ],
  [{ name: N, type: 257, class: 1, ttl: 5, flags: 0, tag: 'issue', value: 'letsencrypt.org' }, `${N}\t5\tIN\tCAA\t0 issue "letsencrypt.org"`],
  [{ name: N, type: 0xff00, class: 1, ttl: 5, rdata: Uint8Array.from([0x0a, 0, 0, 1]), raw: true }, `${N}\t5\tIN\tTYPE65280\t\\# 4 0a000001`],
  [{ name: N, type: 99, class: 5, ttl: 5, rdata: new Uint8Array(0), raw: true }, `${N}\t5\tCLASS5\tTYPE99\t\\# 0`],
  [{ name: N, type: 16, class: 1, ttl: 5, rdata: Uint8Array.from([2, 0xff, 0x41]), raw: true }, `${N}\t5\tIN\tTXT\t"\\255A"`],
  [{ name: 'a\\.b\\ c.', type: 1, class: 1, ttl: 0, address: '1.2.3.4' }, 'a\\.b\\ c.\t0\tIN\tA\t1.2.3.4'],
];

test('rrToString prints records as dig and miekg/dns do', () => {
  for (const [rr, want] of printed) assert.equal(rrToString(rr), want);
});

test('parseRR reads back what rrToString prints', () => {
  for (const [rr, text] of printed) {
    const back = parseRR(text);
    assert.equal(rrToString(back), text, text);
    if (rr.type === 28) continue; // the address comes back canonical
    assert.deepEqual(back, rr, text);
  }
});

test('decoded records print the same as the records they came from', () => {
  const rrs = printed.map(([rr]) => rr).filter((rr) => !(rr.type === 16 && 'raw' in rr));
  const m = decodeMessage(encodeMessage({ ...emptyHeader(1), questions: [], answers: rrs, authorities: [], additionals: [] }));
  assert.deepEqual(m.answers.map(rrToString), printed.filter(([rr]) => rrs.includes(rr)).map(([, s]) => s));
});

test('zone-file syntax: origin, @, relative names, TTL units, class and TTL in either order, defaults', () => {
  const o = { origin: 'cluster.local.' };
  assert.deepEqual(parseRR('web.demo 5 IN A 10.0.0.1', o), { name: 'web.demo.cluster.local.', class: 1, ttl: 5, type: 1, address: '10.0.0.1' });
  assert.deepEqual(parseRR('@ IN 1h NS ns.dns', o), { name: 'cluster.local.', class: 1, ttl: 3600, type: 2, target: 'ns.dns.cluster.local.' });
  assert.deepEqual(parseRR('x CNAME @', { ...o, defaultTtl: 30 }), { name: 'x.cluster.local.', class: 1, ttl: 30, type: 5, target: 'cluster.local.' });
  assert.equal(parseRR('x.example. A 1.2.3.4').ttl, 3600);
  assert.equal(parseRR('x A 1.2.3.4').name, 'x.');
  assert.equal(parseRR('x.example. CH TXT "a"').class, 3);
  assert.equal(parseRR('x.example. TXT a', { defaultClass: 3 }).class, 3);
  assert.equal(parseRR('x.example. 300 in aaaa ::1').type, 28);
  assert.deepEqual(parseRR('x.example. 1 IN TYPE1 \\# 4 0A000001'), { name: 'x.example.', class: 1, ttl: 1, type: 1, address: '10.0.0.1' });
  const soa = parseRR(`@ 3600 IN SOA ns.dns.cluster.local. hostmaster ( ; a comment
      2024010101 ; serial
      2h 30m 1W 5 )`, o);
  assert.deepEqual(soa, {
    name: 'cluster.local.', class: 1, ttl: 3600, type: 6, mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.',
    serial: 2024010101, refresh: 7200, retry: 1800, expire: 604800, minimum: 5,
  });
});

test('TXT strings: quotes, escapes, unquoted words, non-UTF-8 bytes', () => {
  assert.deepEqual(parseRdata(16, tokenizeRR('"a b" c "x\\"y" "\\\\" "\\065\\066"'), '.'), { type: 16, strings: ['a b', 'c', 'x"y', '\\', 'AB'] });
  assert.deepEqual(parseRdata(16, tokenizeRR('"\\195\\169" ü'), '.'), { type: 16, strings: ['é', 'ü'] });
  assert.deepEqual(parseRdata(16, tokenizeRR('"\\255" ""'), '.'), { type: 16, rdata: Uint8Array.from([1, 255, 0]), raw: true });
  assert.deepEqual(parseRdata(16, tokenizeRR('"a;b" ; comment'), '.'), { type: 16, strings: ['a;b'] });
  const long = (parseRdata(16, [`"${'x'.repeat(300)}"`], '.') as { strings: string[] }).strings;
  assert.deepEqual(long, ['x'.repeat(300)]);
});

test('RFC 3597 generic RDATA', () => {
  assert.deepEqual(parseRdata(65280, ['\\#', '3', 'ab', 'cd01'], '.'), { type: 65280, rdata: Uint8Array.from([0xab, 0xcd, 1]), raw: true });
  assert.deepEqual(parseRdata(99, ['\\#', '0'], '.'), { type: 99, rdata: new Uint8Array(0), raw: true });
  assert.deepEqual(parseRdata(5, ['\\#', '3', '016100'], '.'), { type: 5, target: 'a.' });
  assert.throws(() => parseRdata(1, ['\\#', '3', '0a0000'], '.'), /bad RFC 3597 RDATA for A/);
  assert.throws(() => parseRdata(99, ['\\#', '2', '0a'], '.'), /not 2 hex bytes/);
  assert.throws(() => parseRdata(5, ['\\#', '2', 'c000'], '.'), RRParseError);
});

test('bad records throw RRParseError naming the problem', () => {
  const bad: [string, RegExp][] = [
    ['x.', /not a record/],
    ['x. 5 IN', /unknown type/],
    ['x. 5 IN BOGUS 1', /unknown type BOGUS/],
    ['x. A 10.0.0.256', /bad A address/],
    ['x. A 10.0.0.1 10.0.0.2', /A needs 1 RDATA fields, got 2/],
    ['x. AAAA fe80::1%eth0', /bad AAAA address/],
    ['x. MX mx.example.', /MX needs 2/],
    ['x. MX 65536 mx.example.', /MX preference 65536 out of range/],
    ['x. SRV 0 0 70000 t.', /SRV port 70000 out of range/],
    ['x. SRV 0 0 -1 t.', /bad SRV port/],
    ['x. CNAME a..b.', /bad name/],
    [`x. CNAME ${'a'.repeat(64)}.`, /bad name/],
    ['x. TXT', /at least one string/],
    ['x. TXT "open', /unterminated/],
    ['x. TXT "\\256"', /bad escape/],
    ['x. CAA 0 is-sue "x"', /bad CAA tag/],
    ['x. CAA 256 issue "x"', /CAA flags 256 out of range/],
    ['x. 1x A 1.2.3.4', /bad TTL/],
    ['x. 2147483648 A 1.2.3.4', /TTL 2147483648 out of range/],
    ['x. SOA a. b. 1 2 3 4', /SOA needs 7/],
    ['x. HINFO "a"', /HINFO needs 2/],
    ['x. SVCB 1 .', /needs RFC 3597 syntax/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseRR(text), (e: unknown) => e instanceof RRParseError && re.test(e.message), text);
  }
});

test('parseTtl', () => {
  assert.equal(parseTtl('0'), 0);
  assert.equal(parseTtl('1h30m'), 5400);
  assert.equal(parseTtl('1w1d1h1m1s'), 604800 + 86400 + 3600 + 60 + 1);
  assert.equal(parseTtl('2D'), 172800);
  assert.throws(() => parseTtl('h'), RRParseError);
  assert.throws(() => parseTtl('1h 2m'), RRParseError);
});
