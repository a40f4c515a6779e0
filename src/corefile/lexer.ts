/**
 * The Corefile lexer: Caddy v1's caddyfile lexer (github.com/coredns/caddy caddyfile/lexer.go),
 * which is what CoreDNS uses.
 *
 * - A token is a run of non-space characters. `{` and `}` are not special here: they are tokens only
 *   when written as words of their own (`.:53{` is one word); the parser gives them meaning.
 * - `#` starts a comment to the end of the line wherever it appears outside quotes, even inside a
 *   word (`foo#bar` is the word `foo`).
 * - A word that starts with `"` is quoted: it runs to the next unescaped `"`, may span lines, and
 *   keeps everything inside as written except that `\"` becomes `"`. Any other backslash stays as is
 *   (`"C:\dir"` is `C:\dir`, `"a\\b"` is `a\\b`). A `"` inside an unquoted word is an ordinary character.
 * - `;` is an ordinary character (there is no statement separator).
 * - Outside quotes `\r` is ignored; a leading byte order mark is dropped.
 *
 * One deviation: caddy silently turns an unterminated quoted string into a token holding the rest of
 * the file; we report it at the line where the quote opened.
 */
import { ConfigError, ErrorCodes } from '../errors.js';

export interface Token {
  /** The word, without the quotes of a quoted word. */
  text: string;
  /** The line the token starts on (1-based). */
  line: number;
  /** The line it ends on (differs from `line` for a quoted word spanning lines). */
  endLine: number;
  file: string;
  /** Written in quotes (so `"}"` is the word `}`, though caddy, and so the parser, still reads it as a brace). */
  quoted: boolean;
}

/** Go's unicode.IsSpace (which is what caddy splits on); note U+FEFF is not a space. */
function isSpace(ch: string): boolean {
  switch (ch) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case '\u0085':
    case '\u00a0':
    case '\u1680':
    case '\u2028':
    case '\u2029':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default:
      return ch >= '\u2000' && ch <= '\u200a';
  }
}

export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  const input = text.startsWith('\ufeff') ? text.slice(1) : text;
  let line = 1;
  let val = '';
  let inWord = false;
  let start = 1;
  let quoted = false;
  let wasQuoted = false;
  let escaped = false;
  let comment = false;

  const emit = (): void => {
    tokens.push({ text: val, line: start, endLine: line, file, quoted: wasQuoted });
    val = '';
    inWord = false;
  };

  for (const ch of input) {
    if (quoted) {
      if (!escaped) {
        if (ch === '\\') {
          escaped = true;
          continue;
        }
        if (ch === '"') {
          quoted = false;
          emit();
          continue;
        }
      }
      if (ch === '\n') line++;
      // Only a quote can be escaped; any other backslash is kept.
      if (escaped && ch !== '"') val += '\\';
      val += ch;
      escaped = false;
      continue;
    }

    if (isSpace(ch)) {
      if (ch === '\r') continue;
      if (ch === '\n') {
        comment = false;
        if (inWord) emit();
        line++;
        continue;
      }
      if (inWord) emit();
      continue;
    }

    if (ch === '#') comment = true;
    if (comment) continue;

    if (!inWord) {
      inWord = true;
      start = line;
      wasQuoted = ch === '"';
      if (wasQuoted) {
        quoted = true;
        continue;
      }
    }
    val += ch;
  }

  if (quoted) {
    throw new ConfigError(ErrorCodes.COREFILE_SYNTAX, file, start, 'unterminated quoted string: expected a closing \'"\'');
  }
  if (inWord) emit();
  return tokens;
}
