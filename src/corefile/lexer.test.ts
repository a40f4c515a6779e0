import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../errors.js';
import { tokenize } from './lexer.js';

/** [text, line] pairs, the form of caddy's lexer_test.go. */
function lex(input: string): Array<[string, number]> {
  return tokenize(input, 'Corefile').map((t) => [t.text, t.line]);
}

describe('tokenize (caddy lexer_test.go cases and more)', () => {
  const cases: Array<{ name: string; input: string; want: Array<[string, number]> }> = [
    { name: 'one word', input: 'host:123', want: [['host:123', 1]] },
    { name: 'blank lines count', input: 'host:123\n\n\t\t\tdirective', want: [['host:123', 1], ['directive', 3]] },
    {
      name: 'braces are words',
      input: 'host:123 {\n  directive\n}',
      want: [['host:123', 1], ['{', 1], ['directive', 2], ['}', 3]],
    },
    { name: 'one line block', input: 'host:123 { directive }', want: [['host:123', 1], ['{', 1], ['directive', 1], ['}', 1]] },
    { name: 'brace glued to a word is part of it', input: '.:53{ a}', want: [['.:53{', 1], ['a}', 1]] },
    {
      name: 'comments',
      input: 'host:123 {\n  #comment\n  directive\n  # comment\n  foobar # another comment\n}',
      want: [['host:123', 1], ['{', 1], ['directive', 3], ['foobar', 5], ['}', 6]],
    },
    { name: 'comment inside a word ends it', input: 'foo#bar baz\nnext', want: [['foo', 1], ['next', 2]] },
    { name: 'quoted value', input: 'a "quoted value" b\nfoobar', want: [['a', 1], ['quoted value', 1], ['b', 1], ['foobar', 2]] },
    { name: 'escaped quotes', input: 'A "quoted \\"value\\" inside" B', want: [['A', 1], ['quoted "value" inside', 1], ['B', 1]] },
    { name: 'other escapes are kept', input: '"don\'t\\escape"', want: [["don't\\escape", 1]] },
    { name: 'double backslash is kept', input: '"don\'t\\\\escape"', want: [["don't\\\\escape", 1]] },
    { name: 'windows path', input: '"C:\\php\\php-cgi.exe"', want: [['C:\\php\\php-cgi.exe', 1]] },
    {
      name: 'multi-line quoted string: next tokens on the right lines',
      input: 'A "quoted value with line\n\t\t\t\t\tbreak inside" {\n  foobar\n}',
      want: [['A', 1], ['quoted value with line\n\t\t\t\t\tbreak inside', 1], ['{', 2], ['foobar', 3], ['}', 4]],
    },
    { name: '# inside quotes is not a comment', input: 'a "b # c" d', want: [['a', 1], ['b # c', 1], ['d', 1]] },
    { name: 'empty quoted string is a token', input: 'empty "" string', want: [['empty', 1], ['', 1], ['string', 1]] },
    { name: 'quote only opens at the start of a word', input: 'a"b c"', want: [['a"b', 1], ['c"', 1]] },
    { name: 'a closing quote ends the word', input: '"a"b', want: [['a', 1], ['b', 1]] },
    { name: 'CR is skipped', input: 'skip those\r\nCR characters', want: [['skip', 1], ['those', 1], ['CR', 2], ['characters', 2]] },
    { name: 'byte order mark dropped', input: '\ufeff:8080', want: [[':8080', 1]] },
    { name: 'semicolon is an ordinary character', input: 'a b; c', want: [['a', 1], ['b;', 1], ['c', 1]] },
    { name: 'backslash outside quotes is literal', input: 'a\\ b', want: [['a\\', 1], ['b', 1]] },
    { name: 'unicode space separates', input: 'a\u00a0b\u3000c', want: [['a', 1], ['b', 1], ['c', 1]] },
    { name: 'empty input', input: '', want: [] },
    { name: 'only space and newlines', input: ' \t\n\n', want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(lex(c.input), c.want));
  }

  it('records where a multi-line token ends', () => {
    const [, q] = tokenize('a "x\ny\nz" b', 'F');
    assert.deepEqual({ line: q!.line, endLine: q!.endLine, quoted: q!.quoted }, { line: 1, endLine: 3, quoted: true });
  });

  it('reports an unterminated quote at the line where it opened', () => {
    assert.throws(
      () => tokenize('.:53 {\n  template "abc\n}\n', 'Corefile'),
      (e: unknown) => e instanceof ConfigError && e.message === 'Corefile:2 - unterminated quoted string: expected a closing \'"\'',
    );
  });
});
