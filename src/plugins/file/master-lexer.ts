/**
 * The RFC 1035 §5.1 master file lexer: splits zone file text into entries (one RR or directive
 * each), as miekg/dns's zlexer does for CoreDNS.
 *
 * - `;` starts a comment to the end of the line (outside quotes).
 * - `(` and `)` group: newlines between them do not end the entry.
 * - `"..."` is one token, which may hold spaces, `;` and parentheses; `\"` inside does not end it.
 * - A backslash escapes the next character in any token and stays in the token text (`\.`, `\;`,
 *   `\ `, `\DDD`): names and RDATA are decoded later by the code that knows what the token is.
 * - An entry whose first line starts with a space or tab has a blank owner (the previous owner).
 * Pure: no I/O.
 */
import { ConfigError, ErrorCodes } from '../../errors.js';

export interface ZoneToken {
  /** The token text; for a quoted token, what was between the quotes (escapes kept). */
  text: string;
  quoted: boolean;
  line: number;
}

export interface ZoneEntry {
  /** The line the entry starts on. */
  line: number;
  /** True when the line starts with whitespace: the owner is the previous entry's. */
  blankOwner: boolean;
  tokens: ZoneToken[];
}

export function lexZone(text: string, file: string): ZoneEntry[] {
  const entries: ZoneEntry[] = [];
  let line = 1;
  let depth = 0; // open parentheses
  let parenLine = 0;
  let entry: ZoneEntry | undefined;
  let atLineStart = true;
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const fail = (at: number, what: string): never => {
    throw new ConfigError(ErrorCodes.ZONEFILE_SYNTAX, file, at, `plugin/file: ${what}`);
  };
  const push = (tok: ZoneToken, blankOwner: boolean): void => {
    if (!entry) {
      entry = { line: tok.line, blankOwner, tokens: [] };
      entries.push(entry);
    }
    entry.tokens.push(tok);
  };

  let lineStartedBlank = false;
  while (i < n) {
    const c = text[i]!;
    if (atLineStart) {
      lineStartedBlank = c === ' ' || c === '\t';
      atLineStart = false;
    }
    if (c === '\n') {
      line++;
      i++;
      atLineStart = true;
      if (depth === 0) entry = undefined;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '(') {
      if (depth === 0) parenLine = line;
      depth++;
      i++;
      continue;
    }
    if (c === ')') {
      if (depth === 0) fail(line, "')' without a matching '('");
      depth--;
      i++;
      continue;
    }
    const blank = entry === undefined ? lineStartedBlank : false;
    if (c === '"') {
      const start = line;
      let s = '';
      i++;
      for (;;) {
        if (i >= n) fail(start, 'unterminated quoted string: expected a closing \'"\'');
        const d = text[i]!;
        if (d === '\\' && i + 1 < n) {
          s += d + text[i + 1]!;
          if (text[i + 1] === '\n') line++;
          i += 2;
          continue;
        }
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\n') line++;
        s += d;
        i++;
      }
      push({ text: s, quoted: true, line: start }, blank);
      continue;
    }
    let s = '';
    const start = line;
    while (i < n) {
      const d = text[i]!;
      if (d === '\\' && i + 1 < n && text[i + 1] !== '\n') {
        s += d + text[i + 1]!;
        i += 2;
        continue;
      }
      if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === ';' || d === '(' || d === ')' || d === '"') break;
      s += d;
      i++;
    }
    push({ text: s, quoted: false, line: start }, blank);
  }
  if (depth > 0) fail(parenLine, "unbalanced '(': expected a closing ')' before the end of the file");
  return entries;
}
