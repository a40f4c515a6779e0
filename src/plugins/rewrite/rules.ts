/**
 * Rewrite rules as CoreDNS writes them (plugin/rewrite: rewrite.go, name.go, type.go, class.go,
 * ttl.go, rcode.go): parsing one rule's tokens, and applying a rule to a question. Pure: no I/O,
 * no request or writer.
 *
 *   [continue|stop] name [exact|prefix|suffix|substring|regex] FROM TO [answer auto | answer name FROM TO | answer value FROM TO]...
 *   [continue|stop] type FROM TO
 *   [continue|stop] class FROM TO
 *   [continue|stop] ttl [exact|prefix|suffix|substring|regex] NAME SECONDS|MIN-MAX
 *   [continue|stop] rcode [exact|prefix|suffix|substring|regex] NAME FROM TO
 *
 * As in CoreDNS, names (but not regex patterns) are lower-cased and made absolute, which for prefix
 * and substring rules appends a dot too ("prefix foo bar" matches "foo.…", not "foobar.…").
 */
import { Rcode, stringToClass, stringToType } from '../../dns/constants.js';
import type { Question } from '../../dns/message.js';
import { canonicalName } from '../../dns/names.js';
import { compileGoRegexp, compileRewritePattern, RegexError, substituteGroups, MAX_REGEX_LENGTH } from './regex.js';
import { RegexRewriter, RemapRewriter, SuffixRewriter, type ResponseRule } from './response.js';

/** A rule that does not parse; the setup adds the Corefile position. */
export class RuleError extends Error {}

export type Mode = 'stop' | 'continue';

export interface Rule {
  /** stop: no rule after this one is tried once it matched; continue: the next rules see the rewritten question. */
  readonly mode: Mode;
  /** Rewrites `q` in place when the rule matches and returns the response rules it needs; undefined when it does not match. */
  apply(q: Question): ResponseRule[] | undefined;
}

export type MatchType = 'exact' | 'prefix' | 'suffix' | 'substring' | 'regex';
const MATCH_TYPES: readonly string[] = ['exact', 'prefix', 'suffix', 'substring', 'regex'];

/** CoreDNS's plugin.Name(s).Normalize(): lower-case and absolute. */
function normalize(s: string): string {
  return canonicalName(s);
}

/** Parses the tokens of one rule (the directive's arguments, or its block's tokens). Throws RuleError. */
export function parseRule(args: readonly string[]): Rule {
  if (args.length === 0) throw new RuleError('no rule type specified for rewrite');
  const arg0 = args[0]!.toLowerCase();
  let mode: Mode = 'stop';
  let start = 1;
  if (arg0 === 'continue' || arg0 === 'stop') {
    mode = arg0;
    if (args.length < 2) throw new RuleError(`${arg0} rule must begin with a rule type`);
    start = 2;
  }
  const ruleType = args[start - 1]!.toLowerCase();
  const rest = args.slice(start);
  switch (ruleType) {
    case 'answer':
      throw new RuleError('response rewrites must begin with a name rule');
    case 'name':
      return parseNameRule(mode, rest);
    case 'type':
    case 'class':
      if (rest.length !== 2) throw new RuleError(`${ruleType} rules must have exactly two arguments`);
      return ruleType === 'type' ? parseTypeRule(mode, rest[0]!, rest[1]!) : parseClassRule(mode, rest[0]!, rest[1]!);
    case 'ttl':
      return parseTtlRule(mode, rest);
    case 'rcode':
      return parseRcodeRule(mode, rest);
    case 'edns0':
      throw new RuleError('edns0 rules are not supported yet (clusterdns rewrites name, type, class, ttl and rcode)');
    case 'cname':
      throw new RuleError('cname rules are not supported yet (clusterdns rewrites name, type, class, ttl and rcode)');
    default:
      throw new RuleError(`invalid rule type "${args[0]}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// name

class NameRule implements Rule {
  constructor(
    readonly mode: Mode,
    private readonly match: MatchType,
    private readonly from: string,
    private readonly pattern: RegExp | undefined,
    private readonly to: string,
    /** Map the rewritten name back to the asked one in owner names and values. */
    private readonly auto: boolean,
    private readonly answers: ResponseRule[],
  ) {}

  apply(q: Question): ResponseRule[] | undefined {
    const name = canonicalName(q.name);
    const out = this.rewrite(name);
    if (out === undefined) return undefined;
    q.name = canonicalName(out);
    if (!this.auto) return this.answers;
    const back = new RemapRewriter(q.name, name);
    return [{ kind: 'name', rewriter: back }, { kind: 'value', rewriter: back }, ...this.answers];
  }

  private rewrite(name: string): string | undefined {
    const { from, to } = this;
    switch (this.match) {
      case 'exact':
        return name === from ? to : undefined;
      case 'prefix':
        return name.startsWith(from) ? to + name.slice(from.length) : undefined;
      case 'suffix':
        return name.endsWith(from) ? name.slice(0, name.length - from.length) + to : undefined;
      case 'substring':
        return name.includes(from) ? name.replaceAll(from, to) : undefined;
      case 'regex':
        return substituteGroups(this.pattern!, name, to);
    }
  }
}

function parseNameRule(mode: Mode, args: string[]): Rule {
  if (args.length < 2) throw new RuleError('too few arguments for a name rule');
  let match: string;
  let from: string;
  let to: string;
  if (args.length === 2) {
    match = 'exact';
    from = normalize(args[0]!);
    to = normalize(args[1]!);
  } else {
    match = args[0]!.toLowerCase();
    from = match === 'regex' ? args[1]! : normalize(args[1]!);
    to = match === 'regex' ? args[2]! : normalize(args[2]!);
  }
  if (!MATCH_TYPES.includes(match)) {
    throw new RuleError(`name rule supports only exact, prefix, suffix, substring, and regex name matching, received: ${match}`);
  }
  const { auto, rules: answers } = args.length > 3 ? parseAnswerRules(match, args.slice(3)) : { auto: false, rules: [] };
  switch (match as MatchType) {
    case 'exact':
      // Exact rules always map the answer back.
      return new NameRule(mode, 'exact', from, undefined, to, true, answers);
    case 'suffix': {
      // For a suffix the reverse mapping is the same suffix swap the other way round.
      const back = new SuffixRewriter(to, from);
      const rules: ResponseRule[] = auto ? [{ kind: 'name', rewriter: back }, { kind: 'value', rewriter: back }, ...answers] : answers;
      return new NameRule(mode, 'suffix', from, undefined, to, false, rules);
    }
    case 'prefix':
    case 'substring':
      return new NameRule(mode, match as MatchType, from, undefined, to, auto, answers);
    case 'regex':
      return new NameRule(mode, 'regex', from, regexRule(() => compileRewritePattern(from, to)), normalize(to), auto, answers);
  }
}

function regexRule(compile: () => RegExp, context = ''): RegExp {
  try {
    return compile();
  } catch (err) {
    if (err instanceof RegexError) throw new RuleError(context + err.message);
    throw err;
  }
}

/** `answer auto | answer name FROM TO | answer value FROM TO`, repeated; after the first, `answer` may be left out. */
function parseAnswerRules(ruleName: string, args: string[]): { auto: boolean; rules: ResponseRule[] } {
  if (args.length < 2) throw new RuleError(`invalid arguments for ${ruleName} rule`);
  let auto = false;
  let nameRules = 0;
  const rules: ResponseRule[] = [];
  let i = 0;
  let last = '';
  while (i < args.length) {
    if (last === '' && args[i] !== 'answer') {
      throw new RuleError(`exceeded the number of arguments for a non-answer rule argument for ${ruleName} rule`);
    }
    if (args[i] === 'answer') i++;
    if (i === args.length) throw new RuleError(`type missing for answer rule for ${ruleName} rule`);
    last = args[i++]!;
    switch (last) {
      case 'auto':
        auto = true;
        break;
      case 'name':
      case 'value': {
        if (args.length - i < 2) throw new RuleError(`${last} answer rule for ${ruleName} rule: 2 arguments required`);
        const from = args[i]!;
        const to = args[i + 1]!;
        const re = regexRule(() => compileRewritePattern(from, to), `${last} answer rule for ${ruleName} rule: `);
        rules.push({ kind: last, rewriter: new RegexRewriter(re, normalize(to)) });
        if (last === 'name') nameRules++;
        i += 2;
        break;
      }
      default:
        throw new RuleError(`invalid type "${last}" for answer rule for ${ruleName} rule`);
    }
  }
  if (auto && nameRules > 0) throw new RuleError('auto name answer rule cannot be combined with explicit name answer rules');
  return { auto, rules };
}

// ---------------------------------------------------------------------------------------------
// type, class

class FieldRule implements Rule {
  constructor(
    readonly mode: Mode,
    private readonly field: 'type' | 'class',
    private readonly from: number,
    private readonly to: number,
  ) {}
  apply(q: Question): ResponseRule[] | undefined {
    if (this.from <= 0 || this.to <= 0 || q[this.field] !== this.from) return undefined;
    q[this.field] = this.to;
    return [];
  }
}

function parseTypeRule(mode: Mode, fromS: string, toS: string): Rule {
  const from = stringToType(fromS);
  if (from === undefined) throw new RuleError(`invalid type "${fromS.toUpperCase()}"`);
  const to = stringToType(toS);
  if (to === undefined) throw new RuleError(`invalid type "${toS.toUpperCase()}"`);
  return new FieldRule(mode, 'type', from, to);
}

function parseClassRule(mode: Mode, fromS: string, toS: string): Rule {
  const from = stringToClass(fromS);
  if (from === undefined) throw new RuleError(`invalid class "${fromS.toUpperCase()}"`);
  const to = stringToClass(toS);
  if (to === undefined) throw new RuleError(`invalid class "${toS.toUpperCase()}"`);
  return new FieldRule(mode, 'class', from, to);
}

// ---------------------------------------------------------------------------------------------
// ttl, rcode: match the question name, change the reply

/** Whether a (canonical) name matches, for the rules that only match. */
class NameMatcher {
  constructor(
    private readonly match: MatchType,
    private readonly value: string,
    private readonly pattern: RegExp | undefined,
  ) {}
  matches(name: string): boolean {
    switch (this.match) {
      case 'exact':
        return name === this.value;
      case 'prefix':
        return name.startsWith(this.value);
      case 'suffix':
        return name.endsWith(this.value);
      case 'substring':
        return name.includes(this.value);
      case 'regex':
        return this.pattern!.test(name);
    }
  }
}

/** `[TYPE] NAME` of a ttl or rcode rule: TYPE defaults to exact; regex NAMEs are patterns. */
function parseMatcher(ruleName: string, type: string | undefined, name: string): NameMatcher {
  const match = (type ?? 'exact').toLowerCase();
  if (match === 'regex') {
    if (name.length > MAX_REGEX_LENGTH) throw new RuleError(`regex pattern too long in a ${ruleName} rule: ${name.length} > ${MAX_REGEX_LENGTH}`);
    const re = regexRule(() => compileGoRegexp(name), `invalid regex pattern in a ${ruleName} rule: `);
    return new NameMatcher('regex', name, re);
  }
  if (!MATCH_TYPES.includes(match)) {
    throw new RuleError(`${ruleName} rule supports only exact, prefix, suffix, substring, and regex name matching`);
  }
  return new NameMatcher(match as MatchType, normalize(name), undefined);
}

class ResponseOnlyRule implements Rule {
  constructor(
    readonly mode: Mode,
    private readonly matcher: NameMatcher,
    private readonly response: ResponseRule,
  ) {}
  apply(q: Question): ResponseRule[] | undefined {
    return this.matcher.matches(canonicalName(q.name)) ? [this.response] : undefined;
  }
}

const MAX_TTL_VALUE = 4294967295;

/** SECONDS, MIN-MAX, -MAX or MIN- (CoreDNS's isValidTTL); undefined when invalid. */
export function parseTtlRange(v: string): { min: number; max: number } | undefined {
  const num = (s: string): number | undefined => {
    if (!/^[0-9]+$/.test(s)) return undefined;
    const n = Number(s);
    return n <= MAX_TTL_VALUE ? n : undefined;
  };
  const parts = v.split('-');
  if (parts.length === 1) {
    const n = num(parts[0]!);
    return n === undefined ? undefined : { min: n, max: n };
  }
  if (parts.length !== 2) return undefined;
  const [lo, hi] = parts as [string, string];
  if (lo === '' && hi === '') return undefined; // "-" alone would be 0-2147483647: useless, refused as CoreDNS does
  const min = lo === '' ? 0 : num(lo);
  const max = hi === '' ? 2147483647 : num(hi);
  if (min === undefined || max === undefined || min > max) return undefined;
  return { min, max };
}

function parseTtlRule(mode: Mode, args: string[]): Rule {
  if (args.length < 2) throw new RuleError(`too few (${args.length}) arguments for a ttl rule`);
  if (args.length > 3) throw new RuleError(`too many (${args.length}) arguments for a ttl rule`);
  const value = args[args.length - 1]!;
  const range = parseTtlRange(value);
  if (!range) throw new RuleError(`invalid TTL '${value}' for a ttl rule`);
  const matcher = args.length === 3 ? parseMatcher('ttl', args[0], args[1]!) : parseMatcher('ttl', undefined, args[0]!);
  return new ResponseOnlyRule(mode, matcher, { kind: 'ttl', ...range });
}

/** RCODE names miekg/dns knows (StringToRcode), for rcode rules. */
const RCODE_NAMES: Record<string, number> = {
  ...Rcode,
  BADSIG: 16, BADKEY: 17, BADTIME: 18, BADMODE: 19, BADNAME: 20, BADALG: 21, BADTRUNC: 22, BADCOOKIE: 23,
};

function parseRcode(v: string): number | undefined {
  if (/^[0-9]+$/.test(v)) {
    const n = Number(v);
    return n <= 23 ? n : undefined;
  }
  return Object.hasOwn(RCODE_NAMES, v.toUpperCase()) ? RCODE_NAMES[v.toUpperCase()] : undefined;
}

function parseRcodeRule(mode: Mode, args: string[]): Rule {
  if (args.length < 3) throw new RuleError(`too few (${args.length}) arguments for a rcode rule`);
  if (args.length > 4) throw new RuleError(`too many (${args.length}) arguments for a rcode rule`);
  const [fromS, toS] = args.slice(-2) as [string, string];
  const from = parseRcode(fromS);
  if (from === undefined) throw new RuleError(`invalid matching RCODE '${fromS}' for a rcode rule`);
  const to = parseRcode(toS);
  if (to === undefined) throw new RuleError(`invalid replacement RCODE '${toS}' for a rcode rule`);
  const matcher = args.length === 4 ? parseMatcher('rcode', args[0], args[1]!) : parseMatcher('rcode', undefined, args[0]!);
  return new ResponseOnlyRule(mode, matcher, { kind: 'rcode', from, to });
}
