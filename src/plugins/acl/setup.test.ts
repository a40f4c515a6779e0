/** Parsing acl directives: CoreDNS's setup_test.go cases, accepted or refused with the expected message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRType } from '../../dns/constants.js';
import { parseCorefile } from '../../corefile/parser.js';
import { ConfigError } from '../../errors.js';
import type { AclRule } from './policy.js';
import { parseAclDirective } from './setup.js';

function parse(body: string, key = '.'): AclRule {
  const block = parseCorefile(`${key} {\n${body}\n}\n`, 'Corefile', { env: {} }).blocks[0]!;
  return parseAclDirective(block.directives[0]!, block.addresses);
}

describe('acl setup', () => {
  const ok = [
    'acl {\n block type A net 192.168.0.0/16\n}',
    'acl {\n block type * net 192.168.0.0/16\n}',
    'acl {\n block type A net *\n}',
    'acl {\n block type A\n}',
    'acl {\n filter type A net 192.168.0.0/16\n}',
    'acl {\n allow net 192.168.0.0/24\n block\n}',
    'acl {\n drop type * net 192.168.0.0/16\n}',
    'acl a.example.org {\n block type * net 192.168.1.0/24\n}',
    'acl example.org {\n block net 192.168.1.0/24 192.168.3.0/24\n}',
    'acl example.org {\n block type A AAAA\n}',
    'acl {\n block type A net 2001:0db8:85a3:0000:0000:8a2e:0370:7334\n}',
    'acl {\n block type A net 2001:db8:abcd:0012::0/64\n}',
    'acl {\n ALLOW TYPE a NET 10.0.0.1\n}',
    'acl',
  ];
  for (const body of ok) it(`accepts: ${body.replace(/\n\s*/g, ' ')}`, () => assert.doesNotThrow(() => parse(body)));

  const bad: Array<[string, string, number]> = [
    ['acl {\n block A net 192.168.0.0/16\n}', `unexpected token "A"; expect 'type | net'`, 3],
    ['acl {\n block type net 192.168.0.0/16\n}', 'no token specified in "type" section', 3],
    ['acl {\n block type A net\n}', 'no token specified in "net" section', 3],
    ['acl {\n block type ABC net 192.168.0.0/16\n}', 'unexpected token "ABC"; expect legal QTYPE', 3],
    ['acl {\n blck type A net 192.168.0.0/16\n}', `unexpected token "blck"; expect 'allow', 'block', 'filter' or 'drop'`, 3],
    ['acl {\n block type A net 192.168.0/16\n}', 'illegal CIDR notation "192.168.0/16"', 3],
    ['acl {\n block type A net 192.168.0.0/33\n}', 'illegal CIDR notation "192.168.0.0/33"', 3],
    ['acl {\n block type A net 2001::85a3::8a2e:0370:7334\n}', 'illegal CIDR notation "2001::85a3::8a2e:0370:7334"', 3],
    ['acl {\n allow\n block type A net 2001:db8:abcd:0012::0/129\n}', 'illegal CIDR notation "2001:db8:abcd:0012::0/129"', 4],
  ];
  for (const [body, message, line] of bad) {
    it(`refuses: ${body.replace(/\n\s*/g, ' ')}`, () => {
      assert.throws(() => parse(body), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.message, `Corefile:${line} - plugin/acl: ${message}`);
        return true;
      });
    });
  }

  it('reads zones (the server block zones when none), actions, types and networks', () => {
    assert.deepEqual(parse('acl', 'example.org').zones, ['example.org.']);
    assert.deepEqual(parse('acl A.Example.org b.example.org.', 'example.org').zones, ['a.example.org.', 'b.example.org.']);
    const r = parse('acl {\n block type A AAAA net 10.0.0.0/8\n filter\n drop type *\n}');
    assert.deepEqual(r.policies.map((p) => p.action), ['block', 'filter', 'drop']);
    assert.deepEqual([...r.policies[0]!.qtypes!], [RRType.A, RRType.AAAA]);
    assert.equal(r.policies[1]!.qtypes, undefined);
    assert.equal(r.policies[2]!.qtypes, undefined);
    assert.ok(r.policies[0]!.sources.has('10.9.9.9'));
    assert.ok(!r.policies[0]!.sources.has('11.0.0.1'));
    assert.ok(r.policies[1]!.sources.has('11.0.0.1') && r.policies[1]!.sources.has('2001:db8::1'));
  });
});
