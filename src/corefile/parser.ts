/**
 * The Corefile parser: Caddy v1's caddyfile grammar as CoreDNS uses it (github.com/coredns/caddy
 * caddyfile/parse.go, dispenser.go; keys as in coredns core/dnsserver/register.go), producing the
 * tree of src/corefile/types.ts.
 *
 *   Corefile     = { ServerBlock | Snippet }
 *   ServerBlock  = Keys ( "{" { Directive } "}" | { Directive } EOF )
 *   Keys         = key { [","] key }        (a key ending in "," continues on the next line)
 *   Snippet      = "(" name ")" "{" tokens "}"
 *   Directive    = name { arg } [ "{" { Directive } "}" ]    (one line; the block opens on it)
 *   import ARG   = replaced by the snippet ARG, or by the files ARG names (relative to the
 *                  importing file's directory; one `*` and one `?` allowed): at the start of a line
 *                  among keys and in nested blocks, and as any directive of a server block
 *
 * How lines work: a directive ends at the end of its line; a block's `{` must be on that line and
 * its children are the lines inside, the first of which may follow the `{` on its line. `{` and
 * `}` are only braces as words of their own. Keys end at the end of their line unless the last
 * one ends in a comma; the server block's `{` may follow on the next line. A server block whose
 * keys are not followed by `{` takes every remaining line of the file as its directives (caddy's
 * single-server form).
 *
 * `{$NAME}` and `{%NAME%}` are replaced by the environment variable (empty when unset) in keys,
 * directive names, arguments and import arguments; the value is one word, never re-read as syntax.
 *
 * Where caddy (and so CoreDNS) is looser, we report an error instead, with the file and line:
 * - a `}` with no open block (caddy reads a stray `}` as a server key, or quietly ends a block
 *   that was opened without braces);
 * - a server block whose key is empty (caddy drops the block: `{$UNSET} {`);
 * - anything but a line break after a nested block's closing `}`;
 * - a server-block-looking line (`example.org {`) inside a server block or after a brace-less one;
 * - a block opened in one file (or snippet) and closed in another;
 * - an unterminated quoted string (lexer).
 * And where caddy's Dispenser is looser than its grammar: a `}` on the line of a nested property
 * (`health { lameduck 5s }`) closes the block here, whereas CoreDNS's plugins read that `}` as one
 * more argument of `lameduck` (and usually reject it).
 *
 * Every error is a ConfigError pointing at the file and line: the block's `{` for an unclosed
 * block, the import line for import problems, the key for key problems.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ClusterDnsError, ConfigError, ErrorCodes, type ErrorCode } from '../errors.js';
import { KeyError, parseServerKey } from './address.js';
import { tokenize, type Token } from './lexer.js';
import type { Corefile, Directive, ServerAddress, ServerBlock } from './types.js';

export interface ParseWarning {
  file: string;
  line: number;
  message: string;
}

export interface ParseOptions {
  /** Environment for `{$NAME}` / `{%NAME%}` (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Reads an imported file (default fs.readFileSync utf8). Errors with code ENOENT mean "not found". */
  readFile?: (path: string) => string;
  /**
   * Expands an absolute glob pattern (`*` and `?` match within one path segment, as Go's
   * filepath.Glob) to the matching paths, sorted. Default: the file system.
   */
  glob?: (pattern: string) => string[];
  /** The port used for keys without one, for the duplicate zone check (default 53; pass -dns.port). */
  defaultPort?: number;
  /** Told about things CoreDNS accepts silently but that are likely mistakes (an import glob matching nothing, `a;`). */
  onWarning?: (warning: ParseWarning) => void;
}

/** The same cap as caddy's maxSnippetExpansions, against exponential snippet fan-out. */
const MAX_EXPANSIONS = 10000;

/** Parses Corefile text. `file` names it in errors and is the base for relative imports. */
export function parseCorefile(text: string, file: string, opts: ParseOptions = {}): Corefile {
  const blocks = new Parser(file, opts).parse(tokenize(text, file));
  return { file, blocks };
}

/** Reads and parses the Corefile at `file`; a read failure is a COREFILE_IO error naming the file. */
export function loadCorefile(file: string, opts: ParseOptions = {}): Corefile {
  let text: string;
  try {
    text = (opts.readFile ?? readUtf8)(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ClusterDnsError(ErrorCodes.COREFILE_IO, `${file}: cannot read the Corefile (${reason})`, { cause: err });
  }
  return parseCorefile(text, file, opts);
}

/** Replaces `{%NAME%}` then `{$NAME}` references as caddy does (unset → empty); values are not re-scanned. */
export function expandEnv(s: string, env: NodeJS.ProcessEnv): string {
  return replaceRefs(replaceRefs(s, '{%', '%}', env), '{$', '}', env);
}

function replaceRefs(s: string, open: string, close: string, env: NodeJS.ProcessEnv): string {
  let from = 0;
  for (;;) {
    const i = s.indexOf(open, from);
    if (i === -1) return s;
    const j = s.indexOf(close, i);
    // caddy leaves the rest of the word alone after a reference with no name (`{$}`).
    if (j === -1 || j <= i + open.length) return s;
    const value = env[s.slice(i + open.length, j)] ?? '';
    s = s.slice(0, i) + value + s.slice(j + close.length);
    from = i + value.length;
  }
}

function readUtf8(p: string): string {
  return fs.readFileSync(p, 'utf8');
}

/** A token as the parser sees it: which expansion it came from and the import chain that led to it. */
interface StreamToken extends Token {
  /** One number per file read or snippet expanded: tokens of different expansions are never on one line. */
  src: number;
  /** "file:/abs" / "snippet:name" entries from the Corefile down to this token's expansion. */
  chain: readonly string[];
}

/** Tokens with imports spliced in place: a stack of expansions read top first. */
class TokenStream {
  private readonly frames: Array<{ tokens: StreamToken[]; pos: number }> = [];
  private nextSrc = 0;
  /** The last token taken. */
  prev: StreamToken | undefined;

  push(tokens: readonly Token[], chain: readonly string[]): void {
    const src = this.nextSrc++;
    this.frames.push({ tokens: tokens.map((t) => ({ ...t, src, chain })), pos: 0 });
  }

  peek(): StreamToken | undefined {
    for (;;) {
      const top = this.frames[this.frames.length - 1];
      if (!top) return undefined;
      const t = top.tokens[top.pos];
      if (t) return t;
      this.frames.pop();
    }
  }

  next(): StreamToken | undefined {
    const t = this.peek();
    if (t) {
      this.frames[this.frames.length - 1]!.pos++;
      this.prev = t;
    }
    return t;
  }

  /** caddy's isNewLine: the token is not on the line of the token taken before it. */
  atLineStart(t: StreamToken): boolean {
    const p = this.prev;
    return !p || p.src !== t.src || p.endLine < t.line;
  }
}

interface Snippet {
  tokens: Token[];
  file: string;
  line: number;
}

interface Key {
  text: string;
  tok: StreamToken;
}

class Parser {
  private readonly s = new TokenStream();
  private readonly env: NodeJS.ProcessEnv;
  private readonly snippets = new Map<string, Snippet>();
  private readonly served = new Map<string, { file: string; line: number }>();
  private expansions = 0;

  constructor(
    private readonly file: string,
    private readonly opts: ParseOptions,
  ) {
    this.env = opts.env ?? process.env;
  }

  parse(tokens: Token[]): ServerBlock[] {
    this.s.push(tokens, [`file:${path.resolve(this.file)}`]);
    const blocks: ServerBlock[] = [];
    while (this.s.peek()) {
      const b = this.serverBlockOrSnippet();
      if (b) blocks.push(b);
    }
    return blocks;
  }

  private err(at: { file: string; line: number }, detail: string, code: ErrorCode = ErrorCodes.COREFILE_SYNTAX): ConfigError {
    return new ConfigError(code, at.file, at.line, detail);
  }

  private word(t: StreamToken): string {
    const text = expandEnv(t.text, this.env);
    if (!t.quoted && text.length > 1 && text.endsWith(';')) {
      this.opts.onWarning?.({
        file: t.file,
        line: t.line,
        message: `'${text}': ';' is not a separator in a Corefile, it is part of the word (write each property on its own line)`,
      });
    }
    return text;
  }

  private serverBlockOrSnippet(): ServerBlock | undefined {
    const keys = this.keys();
    if (!keys) return undefined;
    const first = keys[0]!;
    const snippet = /^\((.*)\)$/.exec(first.text);
    if (snippet && keys.length === 1) {
      this.defineSnippet(snippet[1]!, first.tok);
      return undefined;
    }
    const other = keys.find((k) => /^\(.*\)$/.test(k.text));
    if (other) throw this.err(other.tok, `snippet definition '${other.text}' must be the only key before its '{'`);

    const addresses: ServerAddress[] = [];
    for (const k of keys) {
      let parsed: ServerAddress[];
      try {
        parsed = parseServerKey(k.text);
      } catch (e) {
        if (e instanceof KeyError) throw this.err(k.tok, e.message);
        throw e;
      }
      for (const a of parsed) {
        const id = `dns://${a.zone}:${a.port ?? this.opts.defaultPort ?? 53}`;
        const seen = this.served.get(id);
        if (seen) throw this.err(k.tok, `cannot serve ${id} - it is already defined at ${seen.file}:${seen.line}`);
        this.served.set(id, { file: k.tok.file, line: k.tok.line });
        addresses.push(a);
      }
    }

    const open = this.s.peek();
    const braced = open?.text === '{';
    if (braced) this.s.next();
    const directives = this.serverBody(braced ? open : undefined, first);
    return { keys: keys.map((k) => k.text), addresses, directives, file: first.tok.file, line: first.tok.line };
  }

  /** The keys of a server block (caddy's addresses()), or undefined at the end of the input. */
  private keys(): Key[] | undefined {
    const keys: Key[] = [];
    let expecting = false;
    let consumed: StreamToken | undefined;
    for (;;) {
      const t = this.s.peek();
      if (!t) {
        if (expecting) throw this.err(consumed!, "unexpected end of file: expected another key after ','");
        break;
      }
      if (consumed && !expecting && this.s.atLineStart(t)) break;
      if (t.text === 'import' && this.s.atLineStart(t)) {
        this.import();
        continue;
      }
      if (t.text === '{') {
        if (expecting) throw this.err(t, "expected another key after ',' but found '{' - check for an extra comma");
        if (!consumed) throw this.err(t, "unexpected '{': expected a server block key (such as '.:53') before it");
        break;
      }
      this.s.next();
      consumed = t;
      if (t.text === '}') throw this.err(t, "unexpected '}': no block is open");
      let text = this.word(t);
      expecting = text.endsWith(',');
      if (expecting) text = text.slice(0, -1);
      if (text !== '') keys.push({ text, tok: t });
    }
    if (!consumed) return undefined;
    if (keys.length === 0) {
      throw this.err(consumed, `server block key is empty${consumed.text === '' ? '' : ` ('${consumed.text}' expands to nothing: is an environment variable unset?)`}`);
    }
    return keys;
  }

  private defineSnippet(name: string, at: StreamToken): void {
    const open = this.s.peek();
    if (open?.text !== '{') {
      throw this.err(open ?? at, `expected '{' to open snippet (${name})${open ? `, found '${open.text}'` : ', found the end of the file'}`);
    }
    const prior = this.snippets.get(name);
    if (prior) throw this.err(at, `snippet (${name}) is already defined at ${prior.file}:${prior.line}`);
    this.s.next();
    const tokens: Token[] = [];
    let depth = 1;
    for (;;) {
      const t = this.s.next();
      if (!t) throw this.err(open, `unclosed '{': snippet (${name}) opened here has no matching '}'`);
      if (t.text === '{') depth++;
      if (t.text === '}' && --depth === 0) break;
      tokens.push({ text: t.text, line: t.line, endLine: t.endLine, file: t.file, quoted: t.quoted });
    }
    this.snippets.set(name, { tokens, file: at.file, line: at.line });
  }

  /** The directives of a server block, up to its `}` (or to the end of the file when it has no `{`). */
  private serverBody(open: StreamToken | undefined, key: Key): Directive[] {
    const out: Directive[] = [];
    const what = `the server block '${key.text}'`;
    for (;;) {
      const t = this.s.peek();
      if (!t) {
        if (open) throw this.err(open, `unclosed '{': ${what} opened here has no matching '}'`);
        return out;
      }
      if (t.text === '}') {
        if (!open) throw this.err(t, `unexpected '}': ${what} (line ${key.tok.line}) was not opened with '{'`);
        this.checkSameExpansion(open, t, what);
        this.s.next();
        return out;
      }
      if (t.text === 'import') {
        this.import();
        continue;
      }
      if (t.text === '{') throw this.err(t, "unexpected '{': a block must open on the line of its directive");
      out.push(this.directive(true, open, key));
    }
  }

  /**
   * One directive line and its block. `top` is a server block's directive: there a `}` on the
   * line is an error (caddy: "Unexpected '}' because no matching opening brace"); in a nested
   * block it closes that block.
   */
  private directive(top: boolean, serverOpen?: StreamToken, key?: Key): Directive {
    const nameTok = this.s.next()!;
    const name = this.word(nameTok);
    const args: string[] = [];
    let block: Directive[] | undefined;
    for (;;) {
      const t = this.s.peek();
      if (!t || this.s.atLineStart(t)) break;
      if (t.text === '}') {
        if (!top) break;
        throw this.err(t, `unexpected '}' after '${this.s.prev!.text}': ${serverOpen ? "the '}' that closes a server block must be on a line of its own" : 'no block is open'}`);
      }
      if (t.text === '{') {
        if (top && /[.:/]/.test(name)) {
          // `example.org {` cannot be a plugin: it is a server block in the wrong place.
          throw serverOpen
            ? this.err(nameTok, `'${name} {' looks like a server block, but it is inside the server block '${key!.text}' opened at line ${serverOpen.line}: is a '}' missing?`)
            : this.err(key!.tok, `expected '{' to open the server block '${key!.text}': only the last server block of a file may leave out its braces (line ${nameTok.line} starts another)`);
        }
        this.s.next();
        block = this.nested(t, name);
        const after = this.s.peek();
        if (after && !this.s.atLineStart(after) && !(after.text === '}' && !top)) {
          throw this.err(after, `unexpected '${after.text}' after the '}' closing the block of '${name}': start a new line`);
        }
        break;
      }
      this.s.next();
      args.push(this.word(t));
    }
    return { name, args, block, file: nameTok.file, line: nameTok.line };
  }

  private nested(open: StreamToken, owner: string): Directive[] {
    const children: Directive[] = [];
    for (;;) {
      const t = this.s.peek();
      if (!t) throw this.err(open, `unclosed '{': the block of '${owner}' opened here has no matching '}'`);
      if (t.text === '}') {
        this.checkSameExpansion(open, t, `the block of '${owner}'`);
        this.s.next();
        return children;
      }
      if (t.text === 'import' && this.s.atLineStart(t)) {
        this.import();
        continue;
      }
      if (t.text === '{') throw this.err(t, "unexpected '{': expected a property name before it");
      children.push(this.directive(false));
    }
  }

  /**
   * A block is closed in the file (or snippet) that opened it. caddy splices imported tokens, so it
   * would let an imported file's `}` close the importer's block; that is never meant, and the
   * error is clearer where the brace is missing.
   */
  private checkSameExpansion(open: StreamToken, close: StreamToken, what: string): void {
    if (open.src === close.src) return;
    if (close.chain.length > open.chain.length) {
      throw this.err(close, `unexpected '}': it would close ${what} opened at ${open.file}:${open.line}, outside this imported file`);
    }
    throw this.err(open, `unclosed '{': ${what} opened here has no matching '}' in ${open.file}`);
  }

  /** `import ARG`: splices the snippet or files in place of the line. */
  private import(): void {
    const imp = this.s.next()!;
    const args: StreamToken[] = [];
    for (let t = this.s.peek(); t && !this.s.atLineStart(t); t = this.s.peek()) args.push(this.s.next()!);
    if (args.length === 0) throw this.err(imp, 'import needs one argument: a snippet name, a file or a glob pattern');
    if (args.length > 1) {
      const extra = args[1]!;
      throw this.err(extra, `import takes one argument (a snippet name, a file or a glob pattern), found '${extra.text}' too${extra.text === '}' ? ": put the closing '}' on a line of its own" : ''}`);
    }
    const pattern = expandEnv(args[0]!.text, this.env);
    if (pattern === '') throw this.err(imp, 'import needs a non-empty argument (is an environment variable unset?)');
    if (++this.expansions > MAX_EXPANSIONS) throw this.err(imp, `too many imports (more than ${MAX_EXPANSIONS}): check for snippets importing each other`);

    const snippet = this.snippets.get(pattern);
    if (snippet) {
      this.s.push(snippet.tokens, this.enter(imp, `snippet:${pattern}`));
      return;
    }

    const base = path.dirname(path.resolve(imp.file));
    const abs = path.resolve(base, pattern);
    if (/[[\]]/.test(pattern)) throw this.err(imp, `import pattern '${pattern}' may not contain '[' or ']'`);
    const stars = pattern.split('*').length - 1;
    const marks = pattern.split('?').length - 1;
    if (stars > 1 || marks > 1) throw this.err(imp, `import glob pattern may only contain one '*' and one '?': ${pattern}`);

    let files: string[];
    if (stars + marks === 0) {
      files = [abs];
    } else {
      files = (this.opts.glob ?? globFiles)(abs);
      if (files.length === 0) this.opts.onWarning?.({ file: imp.file, line: imp.line, message: `no files match import pattern '${pattern}'` });
    }
    const expansions: Array<{ tokens: Token[]; chain: readonly string[] }> = [];
    for (const f of files) {
      const chain = this.enter(imp, `file:${path.resolve(f)}`);
      let text: string;
      try {
        text = (this.opts.readFile ?? readUtf8)(f);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw this.err(imp, `file to import not found: ${pattern} (${f})`);
        const reason = code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
        throw this.err(imp, `could not import ${f}: ${reason}`, ErrorCodes.COREFILE_IO);
      }
      expansions.push({ tokens: tokenize(text, f), chain });
    }
    // A stack: push the last file first so the first one is read first.
    for (const e of expansions.reverse()) this.s.push(e.tokens, e.chain);
  }

  /** The import chain for an expansion of `entry` from the import at `imp`; a repeat is a cycle. */
  private enter(imp: StreamToken, entry: string): readonly string[] {
    if (imp.chain.includes(entry)) {
      const dir = path.dirname(path.resolve(this.file));
      const names = [...imp.chain.slice(imp.chain.indexOf(entry)), entry].map((c) =>
        c.startsWith('snippet:') ? `snippet (${c.slice('snippet:'.length)})` : path.relative(dir, c.slice('file:'.length)),
      );
      throw this.err(imp, `import cycle: ${names.join(' imports ')}`);
    }
    return [...imp.chain, entry];
  }
}

/** Go's filepath.Glob for the patterns caddy allows (`*`, `?`; no character classes). Sorted. */
function globFiles(pattern: string): string[] {
  const root = path.parse(pattern).root;
  const segments = pattern.slice(root.length).split(path.sep).filter((s) => s !== '');
  let paths = [root];
  for (const seg of segments) {
    const next: string[] = [];
    if (!/[*?]/.test(seg)) {
      for (const p of paths) {
        const candidate = path.join(p, seg);
        if (fs.existsSync(candidate)) next.push(candidate);
      }
    } else {
      const re = new RegExp(`^${seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
      for (const p of paths) {
        let names: string[];
        try {
          names = fs.readdirSync(p);
        } catch {
          continue;
        }
        for (const n of names.filter((x) => re.test(x)).sort()) next.push(path.join(p, n));
      }
    }
    paths = next;
  }
  return paths;
}
