import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrSet, parseCidr, parseSourceAddress } from './cidr.js';

describe('CidrSet', () => {
  const cases: Array<[string[], string, boolean]> = [
    [['10.0.0.0/8'], '10.1.2.3', true],
    [['10.0.0.0/8'], '11.0.0.1', false],
    [['10.1.2.3/8'], '10.200.0.1', true], // host bits are ignored, as Go's ParseCIDR
    [['192.168.1.0/24'], '192.168.1.255', true],
    [['192.168.1.0/24'], '192.168.2.0', false],
    [['192.168.1.128/25'], '192.168.1.127', false],
    [['192.168.1.128/25'], '192.168.1.128', true],
    [['172.16.0.0/12'], '172.31.255.255', true],
    [['172.16.0.0/12'], '172.32.0.0', false],
    [['127.0.0.1'], '127.0.0.1', true], // a single address is a /32
    [['127.0.0.1'], '127.0.0.2', false],
    [['0.0.0.0/0'], '203.0.113.7', true],
    [['0.0.0.0/0'], '::1', false], // families do not mix
    [['::/0'], '10.0.0.1', false],
    [['::/0'], '2001:db8::1', true],
    [['2001:db8::/32'], '2001:db8:ffff::1', true],
    [['2001:db8::/32'], '2001:db9::1', false],
    [['2001:db8::/33'], '2001:db8:7fff::1', true],
    [['2001:db8::/33'], '2001:db8:8000::1', false],
    [['::1'], '::1', true],
    [['::1'], '::2', false],
    [['127.0.0.0/8'], '::ffff:127.0.0.1', true], // IPv4-mapped sources match IPv4 networks
    [['fe80::/10'], 'fe80::1%eth0', true], // the zone index is ignored
    [['10.0.0.0/8', '2001:db8::/32'], '2001:db8::5', true],
    [['10.0.0.0/8'], 'not-an-address', false],
  ];
  for (const [nets, ip, want] of cases) {
    it(`${nets.join(',')} ${want ? 'contains' : 'does not contain'} ${ip}`, () => {
      const s = new CidrSet();
      for (const n of nets) assert.ok(s.add(n), n);
      assert.equal(s.has(ip), want);
    });
  }

  it('addAll takes every address of both families', () => {
    const s = new CidrSet();
    s.addAll();
    for (const ip of ['0.0.0.0', '255.255.255.255', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::ffff:1.2.3.4']) assert.ok(s.has(ip), ip);
  });

  it('refuses what Go refuses', () => {
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', '10.0.0.0/', '10.0.0.0/-1', '010.0.0.0/8', 'x/8', '10.0.0.0/8/8', 'fe80::1%eth0/64', '']) {
      assert.equal(parseCidr(bad), undefined, bad);
      assert.equal(new CidrSet().add(bad), false, bad);
    }
    assert.deepEqual(parseCidr('10.0.0.0/8'), { bytes: Uint8Array.from([10, 0, 0, 0]), bits: 8 });
    assert.equal(parseCidr('2001:db8::/128')?.bits, 128);
  });

  it('parses source addresses to 4 or 16 bytes', () => {
    assert.deepEqual(parseSourceAddress('::ffff:10.0.0.1'), Uint8Array.from([10, 0, 0, 1]));
    assert.equal(parseSourceAddress('2001:db8::1')?.length, 16);
    assert.equal(parseSourceAddress(''), undefined);
  });
});
