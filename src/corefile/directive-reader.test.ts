import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, ErrorCodes } from '../errors.js';
import { DirectiveReader, ValueError, parseBool, parseDuration, parseInteger } from './directive-reader.js';
import { parseCorefile } from './parser.js';
import type { Directive } from './types.js';

/** The first directive of a one-block Corefile. */
function directive(body: string): Directive {
  return parseCorefile(`. {\n${body}\n}`, 'Corefile', { env: {} }).blocks[0]!.directives[0]!;
}

function throwsConfig(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, ErrorCodes.COREFILE_PLUGIN);
    assert.equal(e.message, message);
    return true;
  });
}

/** What a plugin setup looks like with the reader: health [ADDRESS] { lameduck DURATION }. */
function parseHealth(d: Directive): { addr: string; lameduckMs: number } {
  const r = new DirectiveReader(d, 'health');
  const [addr = ':8080'] = r.args(0, 1);
  let lameduckMs = 0;
  for (const p of r.block()) {
    const c = r.child(p);
    switch (p.name) {
      case 'lameduck':
        lameduckMs = c.duration(c.args(1)[0]!);
        break;
      default:
        r.unknownProperty(p);
    }
  }
  return { addr, lameduckMs };
}

describe('DirectiveReader', () => {
  it('reads a directive the way a setup does', () => {
    assert.deepEqual(parseHealth(directive('health {\n    lameduck 5s\n}')), { addr: ':8080', lameduckMs: 5000 });
    assert.deepEqual(parseHealth(directive('health :9090')), { addr: ':9090', lameduckMs: 0 });
  });

  it('points errors at the right line with the plugin prefix', () => {
    throwsConfig(() => parseHealth(directive('health {\n    lameduck 5s\n    foo bar\n}')), "Corefile:4 - plugin/health: unknown property 'foo'");
    throwsConfig(() => parseHealth(directive('health {\n\n    lameduck 5s 6s\n}')), "Corefile:4 - plugin/health: 'lameduck' takes exactly 1 argument, got 2: 5s 6s");
    throwsConfig(() => parseHealth(directive('health {\n    lameduck five\n}')), /* line 3 */ "Corefile:3 - plugin/health: 'lameduck': invalid duration 'five': expected a Go duration such as 30s, 1m30s, 500ms or 1h");
    throwsConfig(() => parseHealth(directive('health a b')), "Corefile:2 - plugin/health: 'health' takes at most 1 argument, got 2: a b");
    throwsConfig(() => parseHealth(directive('health {\n    lameduck -5s\n}')), "Corefile:3 - plugin/health: duration '-5s' for 'lameduck' must not be negative");
  });

  it('describes argument counts', () => {
    const r = new DirectiveReader(directive('x a b c'), 'x');
    assert.deepEqual(r.args(3), ['a', 'b', 'c']);
    assert.deepEqual(r.args(1, Infinity), ['a', 'b', 'c']);
    assert.deepEqual(r.args(2, 3), ['a', 'b', 'c']);
    throwsConfig(() => r.args(0), "Corefile:2 - plugin/x: 'x' takes no arguments, got 3: a b c");
    throwsConfig(() => r.args(4, Infinity), "Corefile:2 - plugin/x: 'x' takes at least 4 arguments, got 3: a b c");
    throwsConfig(() => r.args(1, 2), "Corefile:2 - plugin/x: 'x' takes 1 to 2 arguments, got 3: a b c");
    throwsConfig(() => new DirectiveReader(directive('x'), 'x').args(1), "Corefile:2 - plugin/x: 'x' takes exactly 1 argument, got none");
    assert.throws(() => r.args(2, 1), RangeError);
  });

  it('returns a copy of the arguments', () => {
    const d = directive('x a');
    new DirectiveReader(d, 'x').args(1).push('b');
    assert.deepEqual(d.args, ['a']);
  });

  it('block, noBlock, error at a given line', () => {
    const withBlock = new DirectiveReader(directive('x {\n}'), 'x');
    assert.deepEqual(withBlock.block(), []);
    throwsConfig(() => withBlock.noBlock(), "Corefile:2 - plugin/x: 'x' does not take a block");
    const plain = new DirectiveReader(directive('x'), 'x');
    assert.deepEqual(plain.block(), []);
    plain.noBlock();
    const e = plain.error('bad thing', 9);
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, 'Corefile:9 - plugin/x: bad thing');
    assert.equal(e.file, 'Corefile');
    assert.equal(e.detail, 'plugin/x: bad thing');
  });

  it('integer and bool with the line of the directive', () => {
    const r = new DirectiveReader(directive('cache 30'), 'cache');
    assert.equal(r.integer('30', 0, 3600), 30);
    throwsConfig(() => r.integer('3601', 0, 3600), "Corefile:2 - plugin/cache: 'cache': 3601 is out of range: expected 0 to 3600");
    throwsConfig(() => r.integer('1e3', 0, 3600), "Corefile:2 - plugin/cache: 'cache': invalid integer '1e3'");
    assert.equal(r.bool('true'), true);
    throwsConfig(() => r.bool('yes'), "Corefile:2 - plugin/cache: 'cache': invalid boolean 'yes': expected true or false");
    assert.equal(r.duration('-1s', { allowNegative: true }), -1000);
  });
});

describe('parseDuration (Go time.ParseDuration)', () => {
  const ok: Array<[string, number]> = [
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['5s', 5000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['2h45m30.5s', 9_930_500],
    ['.5s', 500],
    ['1.s', 1000],
    ['100us', 0.1],
    ['100\u00b5s', 0.1],
    ['100\u03bcs', 0.1],
    ['1000000ns', 1],
    ['-1m', -60_000],
    ['+10s', 10_000],
    ['30s1ms', 30_001],
  ];
  for (const [s, ms] of ok) {
    it(`${s} = ${ms}ms`, () => assert.equal(parseDuration(s), ms));
  }
  const bad = ['', '5', '30', 's', '.s', '.', '-', '5x', '5 s', ' 5s', '1.5.5s', '1e3s', '5S', 'five', '9999999999h'];
  for (const s of bad) {
    it(`rejects ${JSON.stringify(s)}`, () => assert.throws(() => parseDuration(s), ValueError));
  }
});

describe('parseInteger', () => {
  it('accepts decimal integers in range', () => {
    assert.equal(parseInteger('0', 0, 10), 0);
    assert.equal(parseInteger('-0', 0, 10), 0);
    assert.ok(Object.is(parseInteger('-0', -1, 10), 0));
    assert.equal(parseInteger('+7', 0, 10), 7);
    assert.equal(parseInteger('-5', -10, 10), -5);
    assert.equal(parseInteger('010', 0, 10), 10);
    assert.equal(parseInteger('123456789', 1, Infinity), 123456789);
  });
  for (const s of ['', ' 1', '1.0', '1e3', '0x10', 'ten', '1_000']) {
    it(`rejects ${JSON.stringify(s)}`, () => assert.throws(() => parseInteger(s, 0, 10000), /invalid integer/));
  }
  it('rejects out of range and unsafe', () => {
    assert.throws(() => parseInteger('11', 0, 10), /11 is out of range: expected 0 to 10/);
    assert.throws(() => parseInteger('-1', 0, Infinity), /-1 is out of range: expected at least 0/);
    assert.throws(() => parseInteger('9007199254740993', 0, Infinity), ValueError);
  });
});

describe('parseBool (Go strconv.ParseBool)', () => {
  for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) it(`${s} = true`, () => assert.equal(parseBool(s), true));
  for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) it(`${s} = false`, () => assert.equal(parseBool(s), false));
  for (const s of ['', 'yes', 'tRUE', 'on']) it(`rejects ${JSON.stringify(s)}`, () => assert.throws(() => parseBool(s), ValueError));
});
