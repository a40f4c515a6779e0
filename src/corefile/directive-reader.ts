/**
 * What a plugin's setup uses to read its Directive, failing with the directive's file and line and
 * the `plugin/<name>: ` prefix CoreDNS uses ("Corefile:4 - plugin/health: unknown property 'foo'").
 *
 * ```ts
 * // health [ADDRESS] { lameduck DURATION }
 * const r = new DirectiveReader(directive, 'health');
 * const [addr = ':8080'] = r.args(0, 1);
 * let lameduckMs = 0;
 * for (const p of r.block()) {
 *   const c = r.child(p);            // errors now point at the property's line
 *   switch (p.name) {
 *     case 'lameduck':
 *       lameduckMs = c.duration(c.args(1)[0]!);
 *       break;
 *     default:
 *       r.unknownProperty(p);         // never returns
 *   }
 * }
 * ```
 *
 * The value parsers (`parseDuration`, `parseInteger`, `parseBool`) also stand alone; they throw a
 * ValueError, which the reader's methods turn into a ConfigError at the directive's line.
 */
import { ConfigError, ErrorCodes } from '../errors.js';
import type { Directive } from './types.js';

/** A value that does not parse (no position: the reader adds file and line). */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

export class DirectiveReader {
  constructor(
    readonly directive: Directive,
    readonly plugin: string,
  ) {}

  get name(): string {
    return this.directive.name;
  }

  get line(): number {
    return this.directive.line;
  }

  /**
   * The arguments, checking their count: `args(1)` exactly one, `args(0, 2)` up to two,
   * `args(1, Infinity)` at least one.
   */
  args(min = 0, max = min): string[] {
    if (min > max) throw new RangeError(`DirectiveReader.args: min ${min} > max ${max}`);
    const a = this.directive.args;
    if (a.length < min || a.length > max) {
      const got = a.length === 0 ? 'none' : `${a.length}: ${a.join(' ')}`;
      throw this.error(`'${this.name}' takes ${describeCount(min, max)}, got ${got}`);
    }
    return [...a];
  }

  /** A ConfigError at this directive (or at `line`), message prefixed "plugin/<name>: ". */
  error(message: string, line = this.directive.line): ConfigError {
    return new ConfigError(ErrorCodes.COREFILE_PLUGIN, this.directive.file, line, `plugin/${this.plugin}: ${message}`);
  }

  /** The lines of the `{ }` block (none when there is no block). */
  block(): Directive[] {
    return this.directive.block ?? [];
  }

  /** For directives that take no block. */
  noBlock(): void {
    if (this.directive.block !== undefined) throw this.error(`'${this.name}' does not take a block`);
  }

  /** A reader for one line of the block: same plugin, errors at that line. */
  child(property: Directive): DirectiveReader {
    return new DirectiveReader(property, this.plugin);
  }

  unknownProperty(property: Directive): never {
    throw this.error(`unknown property '${property.name}'`, property.line);
  }

  /** A Go duration in milliseconds; negative durations are refused unless allowed. */
  duration(s: string, opts: { allowNegative?: boolean } = {}): number {
    const ms = this.value(() => parseDuration(s));
    if (ms < 0 && !opts.allowNegative) throw this.error(`duration '${s}' for '${this.name}' must not be negative`);
    return ms;
  }

  integer(s: string, min: number, max: number): number {
    return this.value(() => parseInteger(s, min, max));
  }

  bool(s: string): boolean {
    return this.value(() => parseBool(s));
  }

  private value<T>(parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof ValueError) throw this.error(`'${this.name}': ${err.message}`);
      throw err;
    }
  }
}

function describeCount(min: number, max: number): string {
  const n = (k: number): string => `${k} argument${k === 1 ? '' : 's'}`;
  if (max === 0) return 'no arguments';
  if (min === max) return `exactly ${n(min)}`;
  if (max === Infinity) return `at least ${n(min)}`;
  if (min === 0) return `at most ${n(max)}`;
  return `${min} to ${n(max)}`;
}

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  '\u00b5s': 1e3, // µ (micro sign)
  '\u03bcs': 1e3, // μ (Greek mu)
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's maximum Duration, in nanoseconds. */
const MAX_NS = 9223372036854775807;

/**
 * Go's time.ParseDuration ("300ms", "1.5h", "2h45m", "-1m", "0"), in milliseconds (fractional for
 * units below a millisecond). A number without a unit other than 0 is an error, as in Go.
 */
export function parseDuration(s: string): number {
  const invalid = (why = ''): ValueError =>
    new ValueError(`invalid duration '${s}'${why ? ` (${why})` : ''}: expected a Go duration such as 30s, 1m30s, 500ms or 1h`);
  let rest = s;
  let neg = false;
  if (rest[0] === '-' || rest[0] === '+') {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let ns = 0;
  while (rest !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest)!;
    const whole = m[1]!;
    const frac = m[2];
    if (whole === '' && (frac === undefined || frac === '')) throw invalid();
    rest = rest.slice(m[0].length);
    const unit = /^[^0-9.]*/.exec(rest)![0];
    if (unit === '') throw invalid('missing unit');
    const scale = UNIT_NS[unit];
    if (scale === undefined) throw invalid(`unknown unit '${unit}'`);
    rest = rest.slice(unit.length);
    ns += Number(whole || '0') * scale + (frac ? Number(`0.${frac}`) * scale : 0);
    if (ns > MAX_NS) throw invalid('too large');
  }
  const ms = ns / 1e6;
  return neg ? -ms : ms;
}

/** A decimal integer (optional sign, as Go's strconv.Atoi) in [min, max]. */
export function parseInteger(s: string, min: number, max: number): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw new ValueError(`invalid integer '${s}'`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ValueError(`${s} is out of range: expected ${max === Infinity ? `at least ${min}` : `${min} to ${max}`}`);
  }
  return n === 0 ? 0 : n; // no -0
}

/** Go's strconv.ParseBool: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False. */
export function parseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new ValueError(`invalid boolean '${s}': expected true or false`);
}
