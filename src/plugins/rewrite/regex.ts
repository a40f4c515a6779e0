/**
 * Go regular expressions (RE2, as CoreDNS's Corefiles are written) as JavaScript RegExps, and the
 * `{N}` group substitution CoreDNS's rewrite uses in replacement names. Pure.
 *
 * RE2 is close to a subset of JavaScript's syntax; the spellings JavaScript lacks and that
 * Corefiles use are translated: `(?P<name>` named groups, a leading `(?i)`/`(?s)`/`(?m)` flag group,
 * `\A` and `\z`. Other RE2-only syntax (`\Q…\E`, POSIX classes such as `[[:alpha:]]`, `(?U)`) is
 * refused with an error rather than silently meaning something else.
 */

/** CoreDNS's maxRegexpLen: longer patterns are refused (compilation cost). */
export const MAX_REGEX_LENGTH = 10000;

export class RegexError extends Error {}

/** Compiles a Go regexp pattern; unanchored, like Go's regexp.Compile. Throws RegexError. */
export function compileGoRegexp(pattern: string): RegExp {
  if (pattern.length > MAX_REGEX_LENGTH) throw new RegexError(`regex pattern too long: ${pattern.length} > ${MAX_REGEX_LENGTH}`);
  let src = pattern;
  let flags = '';
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 's' || f === 'm') {
        if (!flags.includes(f)) flags += f;
      } else {
        throw new RegexError(`invalid regex matching pattern: ${pattern} (flag '${f}' is not supported)`);
      }
    }
    src = src.slice(lead[0].length);
  }
  if (/\\Q|\[\[:|\(\?[a-zA-Z-]+[:)]/.test(src.replace(/\\\\/g, ''))) {
    throw new RegexError(`invalid regex matching pattern: ${pattern} (RE2 syntax JavaScript has no equivalent for)`);
  }
  src = src.replace(/\(\?P</g, '(?<').replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^').replace(/(^|[^\\])((?:\\\\)*)\\z/g, '$1$2$$');
  try {
    return new RegExp(src, flags);
  } catch {
    throw new RegexError(`invalid regex matching pattern: ${pattern}`);
  }
}

/** The number of capture groups in `re` (Go's NumSubexp). */
export function groupCount(re: RegExp): number {
  return new RegExp(`${re.source}|`, re.flags).exec('')!.length - 1;
}

/** How many distinct `{0}`..`{100}` references `replacement` uses (CoreDNS's getSubExprUsage). */
export function groupReferences(replacement: string): number {
  let n = 0;
  for (let i = 0; i <= 100; i++) if (replacement.includes(`{${i}}`)) n++;
  return n;
}

/**
 * Compiles `from` and checks that `to` does not use more groups than `from` has (CoreDNS's
 * isValidRegexPattern, with its message).
 */
export function compileRewritePattern(from: string, to: string): RegExp {
  const re = compileGoRegexp(from);
  if (groupReferences(to) > groupCount(re)) {
    throw new RegexError(`the rewrite regex pattern (${to}) uses more subexpressions than its corresponding matching regex pattern (${from})`);
  }
  return re;
}

/**
 * `replacement` with `{0}`, `{1}`… replaced by the groups of the first match of `re` in `s`, or
 * undefined when `re` does not match. Groups that did not take part are empty, as in Go.
 */
export function substituteGroups(re: RegExp, s: string, replacement: string): string | undefined {
  const m = re.exec(s);
  if (!m) return undefined;
  let out = replacement;
  for (let i = 0; i < m.length; i++) out = out.replaceAll(`{${i}}`, m[i] ?? '');
  return out;
}
