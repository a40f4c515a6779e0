/**
 * Parsing rewrite rules: a table of Corefile snippets (CoreDNS's rewrite_test.go TestNewRule and
 * setup_test.go cases), each accepted or refused with the expected message; what accepted rules do
 * to a question; and the Go-regexp translation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRClass, RRType } from '../../dns/constants.js';
import type { Question } from '../../dns/message.js';
import { parseCorefile } from '../../corefile/parser.js';
import { ConfigError } from '../../errors.js';
import { compileGoRegexp, groupCount, substituteGroups } from './regex.js';
import { parseTtlRange } from './rules.js';
import { parseDirective } from './setup.js';

function parse(body: string): ReturnType<typeof parseDirective> {
  const d = parseCorefile(`. {\n${body}\n}\n`, 'Corefile', { env: {} }).blocks[0]!.directives[0]!;
  return parseDirective(d);
}

/** Applies a rule to a question and returns [rewritten question or undefined, response rule kinds]. */
function run(body: string, name: string, type: number = RRType.A, qclass: number = RRClass.IN): [Question | undefined, string[]] {
  const q = { name, type, class: qclass };
  const rr = parse(body).apply(q);
  return [rr === undefined ? undefined : q, (rr ?? []).map((r) => r.kind)];
}

describe('rewrite rule parsing', () => {
  const ok: string[] = [
    'rewrite name a.com b.com',
    'rewrite name exact a.com b.com',
    'rewrite name prefix a.com b.com',
    'rewrite name suffix a.com b.com',
    'rewrite name substring a.com b.com',
    'rewrite name regex ([a])\\.com new-{1}.com',
    'rewrite name regex (dns)\\.(core)\\.(rocks) {2}.{1}.{3} answer name (core)\\.(dns)\\.(rocks) {2}.{1}.{3}',
    'rewrite name substring fcore.dns.rocks dns.fcore.rocks answer name (fcore)\\.(dns)\\.(rocks) {2}.{1}.{3}',
    'rewrite name suffix .a. .b. answer auto',
    'rewrite name regex (.*)\\.a\\. {1}.b. answer auto answer value (.*)\\.b\\. {1}.a.',
    'rewrite name regex (.*)\\.a\\. {1}.b. answer name (.*)\\.b\\. {1}.a. value (.*)\\.b\\. {1}.a.',
    'rewrite stop name a.com b.com',
    'rewrite continue name a.com b.com',
    'rewrite type any a',
    'rewrite stop type ANY HINFO',
    'rewrite class ch in',
    'rewrite continue class CH IN',
    'rewrite ttl example.com. 30',
    'rewrite ttl example.com. 30-300',
    'rewrite ttl example.com. -30',
    'rewrite ttl example.com. 30-',
    'rewrite ttl regex (.*)\\.coredns\\.rocks 15',
    'rewrite continue ttl suffix .example.com. 10',
    'rewrite rcode example.com. SERVFAIL NOERROR',
    'rewrite rcode regex (.*)\\.coredns\\.rocks 2 0',
    'rewrite stop {\n name regex (.*)-(us-west-1)\\.coredns\\.rocks {1}.service.{2}.consul\n answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.coredns.rocks\n}',
    'rewrite continue {\n ttl regex (.*)\\.coredns\\.rocks 15\n}',
    'rewrite {\n name suffix .coredns.rocks .service.consul answer auto\n}',
  ];
  for (const body of ok) {
    it(`accepts: ${body.replace(/\n\s*/g, ' ')}`, () => {
      assert.doesNotThrow(() => parse(body));
    });
  }

  const bad: Array<[string, string]> = [
    ['rewrite', 'no rule type specified for rewrite'],
    ['rewrite foo', 'invalid rule type "foo"'],
    ['rewrite name', 'too few arguments for a name rule'],
    ['rewrite name a.com', 'too few arguments for a name rule'],
    ['rewrite name a.com b.com c.com', 'name rule supports only exact, prefix, suffix, substring, and regex name matching, received: a.com'],
    ['rewrite name substring a.com b.com c.com', 'invalid arguments for substring rule'],
    ['rewrite name regex ([a]\\.com new-{1}.com', 'invalid regex matching pattern: ([a]\\.com'],
    ['rewrite name regex ([a])\\.com new-{1}-{2}.com', 'the rewrite regex pattern (new-{1}-{2}.com) uses more subexpressions than its corresponding matching regex pattern (([a])\\.com)'],
    ['rewrite name regex (adns)\\.(core) {2}.{1} answer name (core)\\.(adns) {2}.{1} too.long way.too.long', 'invalid type "too.long" for answer rule for regex rule'],
    ['rewrite name regex (bdns)\\.(core) {2}.{1} NoAnswer name (core)\\.(bdns) {2}.{1}', 'exceeded the number of arguments for a non-answer rule argument for regex rule'],
    ['rewrite name regex (cdns)\\.(core) {2}.{1} answer ttl (core)\\.(cdns) {2}.{1}', 'invalid type "ttl" for answer rule for regex rule'],
    ['rewrite name regex (x)\\.a {1}.b answer name (.*) {1} answer', 'type missing for answer rule for regex rule'],
    ['rewrite name regex (x)\\.a {1}.b answer name (.*)', 'name answer rule for regex rule: 2 arguments required'],
    ['rewrite name regex (x)\\.a {1}.b answer auto answer name (.*) {1}', 'auto name answer rule cannot be combined with explicit name answer rules'],
    ['rewrite name regex (x)\\.a {1}.b answer value ([x {1}', 'value answer rule for regex rule: invalid regex matching pattern: ([x'],
    ['rewrite name fuzzy a.com b.com c.com', 'name rule supports only exact, prefix, suffix, substring, and regex name matching, received: fuzzy'],
    ['rewrite answer name a b', 'response rewrites must begin with a name rule'],
    ['rewrite unknown-action name a.com b.com', 'invalid rule type "unknown-action"'],
    ['rewrite continue', 'continue rule must begin with a rule type'],
    ['rewrite stop {\n}', 'stop rule must begin with a rule type'],
    ['rewrite type', 'type rules must have exactly two arguments'],
    ['rewrite type a', 'type rules must have exactly two arguments'],
    ['rewrite type any a a', 'type rules must have exactly two arguments'],
    ['rewrite type XY WV', 'invalid type "XY"'],
    ['rewrite type ANY WV', 'invalid type "WV"'],
    ['rewrite class IN', 'class rules must have exactly two arguments'],
    ['rewrite class ch in in', 'class rules must have exactly two arguments'],
    ['rewrite class XY WV', 'invalid class "XY"'],
    ['rewrite class IN WV', 'invalid class "WV"'],
    ['rewrite ttl example.com.', 'too few (1) arguments for a ttl rule'],
    ['rewrite ttl example.com. abc', "invalid TTL 'abc' for a ttl rule"],
    ['rewrite ttl example.com. -', "invalid TTL '-' for a ttl rule"],
    ['rewrite ttl example.com. 300-30', "invalid TTL '300-30' for a ttl rule"],
    ['rewrite ttl example.com. 1-2-3', "invalid TTL '1-2-3' for a ttl rule"],
    ['rewrite ttl fuzzy example.com. 30', 'ttl rule supports only exact, prefix, suffix, substring, and regex name matching'],
    ['rewrite ttl regex (example.com. 30', 'invalid regex pattern in a ttl rule: invalid regex matching pattern: (example.com.'],
    ['rewrite ttl exact a b 30 40', 'too many (5) arguments for a ttl rule'],
    ['rewrite rcode example.com. SERVFAIL', 'too few (2) arguments for a rcode rule'],
    ['rewrite rcode example.com. WHAT NOERROR', "invalid matching RCODE 'WHAT' for a rcode rule"],
    ['rewrite rcode example.com. 2 24', "invalid replacement RCODE '24' for a rcode rule"],
    ['rewrite edns0 local set 0xffee abcd', 'edns0 rules are not supported yet (clusterdns rewrites name, type, class, ttl and rcode)'],
    ['rewrite edns0 subnet set 24 56', 'edns0 rules are not supported yet (clusterdns rewrites name, type, class, ttl and rcode)'],
    ['rewrite cname exact a. b.', 'cname rules are not supported yet (clusterdns rewrites name, type, class, ttl and rcode)'],
    ['rewrite name a.com b.com {\n answer auto\n}', "a rule written on the directive line takes no block: write 'rewrite name a.com b.com' alone, or put the whole rule in the block"],
  ];
  for (const [body, message] of bad) {
    it(`refuses: ${body.replace(/\n\s*/g, ' ')}`, () => {
      assert.throws(() => parse(body), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.message, `Corefile:2 - plugin/rewrite: ${message}`);
        return true;
      });
    });
  }
});

describe('rewrite rules applied to a question', () => {
  const cases: Array<{ rule: string; name: string; type?: number; qclass?: number; want: Question | undefined; kinds?: string[] }> = [
    // name: exact is case-insensitive, writes the canonical TO, and always maps the answer back
    { rule: 'rewrite name Foo.Example.org bar.example.org', name: 'FOO.example.ORG.', want: { name: 'bar.example.org.', type: 1, class: 1 }, kinds: ['name', 'value'] },
    { rule: 'rewrite name foo.example.org bar.example.org', name: 'x.foo.example.org.', want: undefined },
    // prefix and substring names are made absolute, as CoreDNS's Normalize does
    { rule: 'rewrite name prefix prefix to', name: 'prefix.nl.', want: { name: 'to.nl.', type: 1, class: 1 }, kinds: [] },
    { rule: 'rewrite name prefix prefix to', name: 'prefixed.nl.', want: undefined },
    { rule: 'rewrite name prefix prefix to answer auto', name: 'prefix.nl.', want: { name: 'to.nl.', type: 1, class: 1 }, kinds: ['name', 'value'] },
    { rule: 'rewrite name suffix .suffix. .nl.', name: 'to.suffix.', want: { name: 'to.nl.', type: 1, class: 1 }, kinds: [] },
    { rule: 'rewrite name suffix .suffix. .nl. answer auto', name: 'to.suffix.', want: { name: 'to.nl.', type: 1, class: 1 }, kinds: ['name', 'value'] },
    { rule: 'rewrite name suffix .suffix. .nl.', name: 'to.suffix.org.', want: undefined },
    { rule: 'rewrite name substring from.substring to', name: 'from.substring.nl.', want: { name: 'to.nl.', type: 1, class: 1 }, kinds: [] },
    { rule: 'rewrite name substring service.us-west-1.example.org service.us-west-1.consul', name: 'ftp.service.us-west-1.example.org.', want: { name: 'ftp.service.us-west-1.consul.', type: 1, class: 1 } },
    { rule: 'rewrite name regex (f.*m)\\.regex\\.(nl) to.{2}', name: 'from.regex.nl.', want: { name: 'to.nl.', type: 1, class: 1 }, kinds: [] },
    { rule: 'rewrite name regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul', name: 'FTP-us-west-1.example.org.', want: { name: 'ftp.service.us-west-1.consul.', type: 1, class: 1 } },
    { rule: 'rewrite name regex ^(.*)-(us-west-1)\\.example\\.org\\.$ {1}.service.{2}.consul', name: 'ftp.example.org.', want: undefined },
    { rule: 'rewrite name regex (?P<host>[a-z]+)\\.a\\. {1}.b. answer name (.*)\\.b\\. {1}.a.', name: 'web.a.', want: { name: 'web.b.', type: 1, class: 1 }, kinds: ['name'] },
    // type and class: the question's field, nothing else
    { rule: 'rewrite type ANY HINFO', name: 'example.org.', type: RRType.ANY, want: { name: 'example.org.', type: RRType.HINFO, class: 1 }, kinds: [] },
    { rule: 'rewrite type ANY HINFO', name: 'example.org.', type: RRType.A, want: undefined },
    { rule: 'rewrite class CH IN', name: 'example.org.', qclass: RRClass.CH, want: { name: 'example.org.', type: 1, class: RRClass.IN }, kinds: [] },
    { rule: 'rewrite class CH IN', name: 'example.org.', want: undefined },
    // ttl and rcode: match the name, leave the question alone
    { rule: 'rewrite ttl Example.COM 30', name: 'example.com.', want: { name: 'example.com.', type: 1, class: 1 }, kinds: ['ttl'] },
    { rule: 'rewrite ttl example.com 30', name: 'www.example.com.', want: undefined },
    { rule: 'rewrite ttl prefix www 30', name: 'www.example.com.', want: { name: 'www.example.com.', type: 1, class: 1 }, kinds: ['ttl'] },
    { rule: 'rewrite ttl suffix example.com 30', name: 'www.example.com.', want: { name: 'www.example.com.', type: 1, class: 1 }, kinds: ['ttl'] },
    { rule: 'rewrite ttl substring example 30', name: 'www.example.com.', want: { name: 'www.example.com.', type: 1, class: 1 }, kinds: ['ttl'] },
    { rule: 'rewrite ttl regex ^w+\\. 30', name: 'www.example.com.', want: { name: 'www.example.com.', type: 1, class: 1 }, kinds: ['ttl'] },
    { rule: 'rewrite ttl regex ^x 30', name: 'www.example.com.', want: undefined },
    { rule: 'rewrite rcode suffix example.com SERVFAIL NOERROR', name: 'a.example.com.', want: { name: 'a.example.com.', type: 1, class: 1 }, kinds: ['rcode'] },
  ];
  for (const c of cases) {
    it(`${c.rule} on ${c.name}`, () => {
      const [q, kinds] = run(c.rule, c.name, c.type, c.qclass);
      assert.deepEqual(q, c.want);
      if (c.kinds) assert.deepEqual(kinds, c.kinds);
    });
  }

  it('reads ttl ranges as CoreDNS does', () => {
    assert.deepEqual(parseTtlRange('30'), { min: 30, max: 30 });
    assert.deepEqual(parseTtlRange('30-300'), { min: 30, max: 300 });
    assert.deepEqual(parseTtlRange('-30'), { min: 0, max: 30 });
    assert.deepEqual(parseTtlRange('30-'), { min: 30, max: 2147483647 });
    assert.deepEqual(parseTtlRange('4294967295'), { min: 4294967295, max: 4294967295 });
    for (const bad of ['', '-', '4294967296', '+3', '3-2', '1-2-3', 'x']) assert.equal(parseTtlRange(bad), undefined, bad);
  });
});

describe('Go regexp translation', () => {
  it('takes RE2 spellings JavaScript lacks', () => {
    assert.equal(substituteGroups(compileGoRegexp('(?P<a>x+)-(?P<b>y+)'), 'xx-yy', '{2}.{1}'), 'yy.xx');
    assert.equal(compileGoRegexp('(?i)^ABC').test('abc.'), true);
    assert.equal(compileGoRegexp('\\Aabc\\z').test('abc'), true);
    assert.equal(compileGoRegexp('\\Aabc\\z').test('abcd'), false);
    assert.equal(compileGoRegexp('\\\\z').test('\\z'), true); // an escaped backslash then a plain z
    assert.equal(groupCount(compileGoRegexp('(a)(?:b)(c)')), 2);
  });

  it('is unanchored and substitutes unmatched groups as empty, like Go', () => {
    assert.equal(substituteGroups(compileGoRegexp('b(x)?c'), 'abcd', '[{0}|{1}]'), '[bc|]');
    assert.equal(substituteGroups(compileGoRegexp('z'), 'abc', '{0}'), undefined);
  });

  it('refuses what it cannot translate and patterns over 10000 characters', () => {
    for (const p of ['\\Qa.b\\E', '[[:alpha:]]', 'a(?i)b', '(?U)a+', '(?i:a)']) assert.throws(() => compileGoRegexp(p), /invalid regex matching pattern/, p);
    assert.throws(() => compileGoRegexp('a'.repeat(10001)), /regex pattern too long: 10001 > 10000/);
    assert.doesNotThrow(() => compileGoRegexp('(?:a)(?=b)(?!c)(?<=d)'));
  });
});
