import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalIp, canonicalName, dashedIp, dashedToIp, escapeLabel, formatIPv6, ipToReverseName, isSubdomain, isValidName,
  joinName, labels, nameToLabels, parseIPv4, parseIPv6, reverseNameToIp, skipWireName,
} from './names.js';

test('canonicalName lower-cases ASCII only and makes the name absolute', () => {
  const cases: [string, string][] = [
    ['', '.'],
    ['.', '.'],
    ['Web.Demo.SVC.cluster.local', 'web.demo.svc.cluster.local.'],
    ['web.demo.', 'web.demo.'],
    ['a\\.', 'a\\..'], // the dot is part of the label, so the name still needs its root dot
    ['a\\\\.', 'a\\\\.'],
    ['ÄB.', 'Äb.'],
  ];
  for (const [i, want] of cases) assert.equal(canonicalName(i), want, i);
});

test('isSubdomain respects label boundaries and escaped dots', () => {
  const cases: [string, string, boolean][] = [
    ['web.demo.svc.cluster.local.', 'cluster.local.', true],
    ['cluster.local.', 'cluster.local.', true],
    ['xcluster.local.', 'cluster.local.', false],
    ['local.', 'cluster.local.', false],
    ['anything.', '.', true],
    ['.', '.', true],
    ['a\\.cluster.local.', 'cluster.local.', false],
    ['a\\\\.cluster.local.', 'cluster.local.', true],
  ];
  for (const [n, z, want] of cases) assert.equal(isSubdomain(n, z), want, `${n} in ${z}`);
});

test('labels and joinName', () => {
  assert.deepEqual(labels('web.demo.svc.'), ['web', 'demo', 'svc']);
  assert.deepEqual(labels('web.demo'), ['web', 'demo']);
  assert.deepEqual(labels('.'), []);
  assert.deepEqual(labels('a\\.b.c.'), ['a\\.b', 'c']);
  assert.equal(joinName('web', 'demo', 'svc.cluster.local.'), 'web.demo.svc.cluster.local.');
  assert.equal(joinName('web.', '.', '', 'local'), 'web.local.');
  assert.equal(joinName(), '.');
  assert.equal(joinName('_http._tcp', 'svc.'), '_http._tcp.svc.');
});

test('isValidName enforces label and name lengths and escapes', () => {
  assert.equal(isValidName('.'), true);
  assert.equal(isValidName('a.b.'), true);
  assert.equal(isValidName('a.b'), true);
  assert.equal(isValidName(`${'a'.repeat(63)}.`), true);
  assert.equal(isValidName(`${'a'.repeat(64)}.`), false);
  assert.equal(isValidName('a..b.'), false);
  assert.equal(isValidName('.a.'), false);
  assert.equal(isValidName(''), false);
  assert.equal(isValidName('a\\0.'), false);
  assert.equal(isValidName('a\\256.'), false);
  assert.equal(isValidName('a\\255.'), true);
  // 4 × 63-byte labels = 256 wire bytes with the root, one too many; 3 × 63 + 61 = 255 exactly
  const l63 = 'a'.repeat(63);
  assert.equal(isValidName(`${l63}.${l63}.${l63}.${'b'.repeat(61)}.`), true);
  assert.equal(isValidName(`${l63}.${l63}.${l63}.${'b'.repeat(62)}.`), false);
  // escapes count as one byte
  assert.equal(isValidName(`${'\\065'.repeat(63)}.`), true);
  assert.equal(isValidName(`${'\\065'.repeat(64)}.`), false);
});

test('nameToLabels decodes escapes and UTF-8; escapeLabel is its inverse', () => {
  const ls = nameToLabels('a\\.b\\032c\\\\.x\\255.é.')!;
  assert.deepEqual(ls.map((l) => [...l]), [[0x61, 0x2e, 0x62, 0x20, 0x63, 0x5c], [0x78, 0xff], [0xc3, 0xa9]]);
  assert.equal(escapeLabel(ls[0]!, 0, ls[0]!.length), 'a\\.b\\ c\\\\');
  assert.equal(escapeLabel(ls[1]!, 0, ls[1]!.length), 'x\\255');
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const round = nameToLabels(escapeLabel(all, 1, 64) + '.')!;
  assert.deepEqual([...round[0]!], [...all.subarray(1, 64)]);
});

test('IPv4 parsing is strict', () => {
  assert.deepEqual([...parseIPv4('10.0.0.1')!], [10, 0, 0, 1]);
  assert.deepEqual([...parseIPv4('255.255.255.255')!], [255, 255, 255, 255]);
  for (const bad of ['10.0.0', '10.0.0.1.2', '256.0.0.1', '010.0.0.1', '1..2.3', '1.2.3.4 ', '', 'a.b.c.d', '1.2.3.-4']) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
});

test('IPv6 parsing and RFC 5952 formatting', () => {
  const cases: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::0:1', '2001:db8::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['fd00:10:244::a', 'fd00:10:244::a'],
  ];
  for (const [i, want] of cases) assert.equal(formatIPv6(parseIPv6(i)!), want, i);
  assert.deepEqual([...parseIPv6('::ffff:1.2.3.4')!], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
  for (const bad of [
    '', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '12345::', 'g::', '1:2:3:4:5:6:7:8::',
    '::1.2.3', '1.2.3.4', '::1.2.3.4:5', '1:', ':1', '1:2:3:4:5:6:7::8:9',
  ]) {
    assert.equal(parseIPv6(bad), undefined, bad);
  }
  assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
  assert.equal(canonicalIp('FD00::0:1'), 'fd00::1');
  assert.equal(canonicalIp('web'), undefined);
});

test('reverse names both ways', () => {
  assert.equal(ipToReverseName('10.0.0.1'), '1.0.0.10.in-addr.arpa.');
  assert.equal(
    ipToReverseName('2001:db8::567:89ab'),
    'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
  );
  assert.equal(ipToReverseName('nope'), undefined);
  assert.equal(reverseNameToIp('1.0.0.10.in-addr.arpa.'), '10.0.0.1');
  assert.equal(reverseNameToIp('1.0.0.10.IN-ADDR.ARPA'), '10.0.0.1');
  assert.equal(
    reverseNameToIp('b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6.arpa.'),
    '2001:db8::567:89ab',
  );
  for (const partial of [
    '0.10.in-addr.arpa.', 'in-addr.arpa.', '1.0.0.0.10.in-addr.arpa.', '256.0.0.10.in-addr.arpa.', '01.0.0.10.in-addr.arpa.',
    '8.b.d.0.1.0.0.2.ip6.arpa.', 'x.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
    'ba.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.', 'example.com.',
  ]) {
    assert.equal(reverseNameToIp(partial), undefined, partial);
  }
  for (const ip of ['192.168.1.254', '::1', 'fd00:10:244:1::2f', '::ffff:10.1.2.3']) {
    assert.equal(reverseNameToIp(ipToReverseName(ip)!), ip);
  }
});

test('dashed addresses as CoreDNS derives them', () => {
  assert.equal(dashedIp('10.0.0.1'), '10-0-0-1');
  assert.equal(dashedIp('fd00::1'), 'fd00--1');
  assert.equal(dashedIp('FD00:10::'), 'fd00-10--0');
  assert.equal(dashedIp('pod'), '');
  assert.equal(dashedToIp('10-0-0-1'), '10.0.0.1');
  assert.equal(dashedToIp('fd00--1'), 'fd00::1');
  assert.equal(dashedToIp('fd00-10--0'), 'fd00:10::');
  assert.equal(dashedToIp('1-2-3-4-5-6-7-8'), '1:2:3:4:5:6:7:8');
  for (const bad of ['10-0-0', '10-0-0-256', 'web', 'a-b-c-d', '1--2--3', '']) assert.equal(dashedToIp(bad), undefined, bad);
  for (const ip of ['10.244.1.7', 'fd00:10:244:1::2f', '2001:db8::']) assert.equal(dashedToIp(dashedIp(ip)), ip);
});

describe('skipWireName', () => {
  const w = Buffer.from([3, 0x77, 0x77, 0x77, 0, 0xc0, 0x0c, 2, 0x61]);
  it('steps over labels to just after the root label', () => assert.equal(skipWireName(w, 0), 5));
  it('steps over a compression pointer without following it', () => assert.equal(skipWireName(w, 5), 7));
  it('gives -1 for a name that runs off the end', () => assert.equal(skipWireName(w, 7), -1));
  it('gives -1 for a pointer cut in half and for a label length over 63', () => {
    assert.equal(skipWireName(Buffer.from([0xc0]), 0), -1);
    assert.equal(skipWireName(Buffer.from([64, 0]), 0), -1);
  });
});
