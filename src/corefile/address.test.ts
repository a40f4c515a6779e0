import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyError, parseServerKey, reverseZonesOf } from './address.js';

describe('parseServerKey', () => {
  const ok: Array<[string, Array<[string, number | undefined]>]> = [
    ['.', [['.', undefined]]],
    ['.:53', [['.', 53]]],
    ['dns://.:53', [['.', 53]]],
    ['DNS://Example.ORG', [['example.org.', undefined]]],
    ['cluster.local:1053', [['cluster.local.', 1053]]],
    ['example.org.:53', [['example.org.', 53]]],
    ['in-addr.arpa', [['in-addr.arpa.', undefined]]],
    ['Cluster.Local', [['cluster.local.', undefined]]],
    ['.:053', [['.', 53]]],
    ['.:65535', [['.', 65535]]],
    ['10.0.0.0/8', [['10.in-addr.arpa.', undefined]]],
    ['10.0.0.0/8:53', [['10.in-addr.arpa.', 53]]],
    ['10.0.0.0/15', [['0.10.in-addr.arpa.', undefined], ['1.10.in-addr.arpa.', undefined]]],
    ['192.168.1.1/23', [['0.168.192.in-addr.arpa.', undefined], ['1.168.192.in-addr.arpa.', undefined]]],
    ['0.0.0.0/0', [['in-addr.arpa.', undefined]]],
    ['fd00::/64', [['0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.', undefined]]],
    ['fd00::/64:1053', [['0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.', 1053]]],
    ['2001:db8::/31', [['8.b.d.0.1.0.0.2.ip6.arpa.', undefined], ['9.b.d.0.1.0.0.2.ip6.arpa.', undefined]]],
    ['*.example.org', [['*.example.org.', undefined]]],
  ];
  for (const [key, want] of ok) {
    it(`${key} → ${want.map(([z, p]) => `${z}${p === undefined ? '' : `:${p}`}`).join(' ')}`, () => {
      assert.deepEqual(
        parseServerKey(key),
        want.map(([zone, port]) => ({ zone, port, scheme: 'dns' })),
      );
    });
  }

  const bad: Array<[string, RegExp]> = [
    ['.:0', /invalid port '0' in key '\.:0': a port must be 1-65535/],
    ['.:65536', /invalid port '65536'.*1-65535/],
    ['.:-1', /invalid port '-1'/],
    ['example.org:', /ends with ':': expected a port/],
    [':53', /key ':53' has no zone: use '\.:53' for the root zone/],
    ['dns://:53', /use 'dns:\/\/\.:53'/],
    ['tls://.:853', /scheme 'tls:\/\/' in key 'tls:\/\/\.:853' is not supported: clusterdns serves plain DNS/],
    ['https://.', /scheme 'https:\/\/' .* is not supported/],
    ['grpc://.', /scheme 'grpc:\/\/' .* is not supported/],
    ['foo://example.org', /unknown scheme 'foo:\/\/' in key 'foo:\/\/example.org': only dns:\/\/ is supported/],
    ['example.org:abc', /':' may only separate a port/],
    ['example.org,example.net', /separate several keys with a space/],
    ['.:53{', /braces only as words of their own \(write '\.:53 \{' with a space\)/],
    ['a..b', /empty label/],
    ['.example.org', /cannot start with '\.'/],
    [`${'a'.repeat(64)}.org`, /label is longer than 63/],
    [`${'abcdefghi.'.repeat(26)}`, /too long|longer than 255/],
    ['10.0.0.0/33', /invalid CIDR '10\.0\.0\.0\/33'/],
    ['010.0.0.0/8', /invalid CIDR/],
    ['example.org/24', /invalid CIDR/],
    ['::/64', /invalid CIDR/],
    ['::fFFF:B:F/115', /invalid CIDR/],
  ];
  for (const [key, re] of bad) {
    it(`rejects ${key.length > 40 ? `${key.slice(0, 40)}…` : key}`, () => {
      assert.throws(() => parseServerKey(key), (e: unknown) => e instanceof KeyError && re.test(e.message));
    });
  }
});

describe('reverseZonesOf (CoreDNS normalize_test.go / cidr_test.go)', () => {
  it('splits IPv4 on octet boundaries', () => {
    assert.deepEqual(reverseZonesOf('10.129.60.0/22'), [
      '60.129.10.in-addr.arpa.',
      '61.129.10.in-addr.arpa.',
      '62.129.10.in-addr.arpa.',
      '63.129.10.in-addr.arpa.',
    ]);
    const z = reverseZonesOf('10.9.3.0/18');
    assert.equal(z.length, 64);
    assert.deepEqual(z.slice(0, 3), ['0.9.10.in-addr.arpa.', '1.9.10.in-addr.arpa.', '2.9.10.in-addr.arpa.']);
    assert.equal(z[63], '63.9.10.in-addr.arpa.');
    assert.deepEqual(reverseZonesOf('10.1.2.3/32'), ['3.2.1.10.in-addr.arpa.']);
  });

  it('splits IPv6 on nibble boundaries', () => {
    // As listed in CoreDNS's normalize_test.go.
    assert.deepEqual(reverseZonesOf('2001:db8::/114'), [
      '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
      '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
      '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
      '3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.',
    ]);
    assert.deepEqual(reverseZonesOf('2001:db8::/112'), ['0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.']);
    assert.deepEqual(reverseZonesOf('2001:db8::/29'), ['8', '9', 'a', 'b', 'c', 'd', 'e', 'f'].map((d) => `${d}.b.d.0.1.0.0.2.ip6.arpa.`));
    assert.deepEqual(reverseZonesOf('64:ff9b::10.0.0.0/120'), [`0.0.0.0.a.0.${'0.'.repeat(16)}b.9.f.f.4.6.0.0.ip6.arpa.`]);
  });
});
