/**
 * RFC 1035 master files → a validated Zone, with the syntax miekg/dns's ZoneParser accepts for
 * CoreDNS: `$ORIGIN`, `$TTL`, `$INCLUDE FILE [ORIGIN]` (relative to the including file, at most 7
 * deep), `@`, relative names, a blank owner meaning the previous owner, parentheses, comments,
 * quoted strings, TTL and class in either order and both optional, BIND TTL units (`1h30m`), and
 * RFC 3597 `TYPEnnn \# len hex`. RDATA is parsed by dns/presentation.ts.
 *
 * Stricter than CoreDNS (which loads whatever miekg parses): records outside the origin, a second
 * SOA or one below the apex, a missing SOA, classes other than IN, and CNAME beside other data (RFC
 * 1034 §3.6.2; RRSIG and NSEC may sit beside it, RFC 4035) are errors, as in BIND's
 * named-checkzone. NSEC3 is refused as CoreDNS does. Exact duplicate records are dropped (RFC 2181
 * §5). Every error is a ConfigError(ZONEFILE_SYNTAX) naming the file and line.
 *
 * Pure apart from the injected `readFile` used for `$INCLUDE`.
 */
import path from 'node:path';
import { RRClass, RRType, stringToClass, stringToType, typeToString } from '../../dns/constants.js';
import type { RecordData, ResourceRecord } from '../../dns/message.js';
import { canonicalName, isSubdomain, isValidName } from '../../dns/names.js';
import { parseRdata, parseTtl } from '../../dns/presentation.js';
import { ConfigError, ErrorCodes } from '../../errors.js';
import { lexZone, type ZoneToken } from './master-lexer.js';
import { normaliseName, Zone } from './zone.js';

/** miekg/dns maxIncludeDepth. */
const MAX_INCLUDE_DEPTH = 7;

export interface ParsedRecord {
  rr: ResourceRecord;
  file: string;
  line: number;
}

export interface ParseOptions {
  /** The zone's origin: relative names are completed with it until a `$ORIGIN` says otherwise. */
  origin: string;
  /** The file name used in errors and to resolve relative `$INCLUDE` paths. */
  file: string;
  /** Reads an `$INCLUDE`d file; without it `$INCLUDE` is an error. */
  readFile?: (file: string) => string;
}

export interface ParsedZoneFile {
  records: ParsedRecord[];
  /** Files read through `$INCLUDE` (reload watches them too). */
  included: string[];
}

interface State {
  origin: string;
  /** The TTL for records that give none, and whether it came from `$TTL` (then explicit TTLs do not replace it). */
  defaultTtl: number | undefined;
  ttlFromDirective: boolean;
  owner: string | undefined;
}

/** Parses master file text into records (absolute, case kept) without checking them against each other. */
export function parseZoneFile(text: string, opts: ParseOptions): ParsedZoneFile {
  const out: ParsedZoneFile = { records: [], included: [] };
  parseInto(text, opts.file, { origin: canonicalOrigin(opts.origin), defaultTtl: undefined, ttlFromDirective: false, owner: undefined }, opts, out, 0);
  return out;
}

/** Parses and validates a zone file for `origin` and builds the in-memory zone. */
export function parseZone(text: string, opts: ParseOptions): { zone: Zone; included: string[] } {
  const parsed = parseZoneFile(text, opts);
  const records = validate(parsed.records, canonicalName(opts.origin), opts.file, lastLine(text));
  return { zone: new Zone(opts.origin, records), included: parsed.included };
}

function parseInto(text: string, file: string, st: State, opts: ParseOptions, out: ParsedZoneFile, depth: number): void {
  const err = (line: number, what: string): ConfigError => new ConfigError(ErrorCodes.ZONEFILE_SYNTAX, file, line, `plugin/file: ${what}`);

  for (const entry of lexZone(text, file)) {
    const t = entry.tokens;
    let i = 0;
    const first = t[0]!;
    if (!entry.blankOwner && !first.quoted && first.text.startsWith('$')) {
      const dir = first.text.toUpperCase();
      const args = t.slice(1);
      switch (dir) {
        case '$ORIGIN': {
          if (args.length !== 1) throw err(first.line, `$ORIGIN takes exactly one domain name, got ${args.length}`);
          st.origin = absoluteName(args[0]!, st.origin, err, 'an origin domain name');
          break;
        }
        case '$TTL': {
          if (args.length !== 1) throw err(first.line, `$TTL takes exactly one TTL, got ${args.length}`);
          st.defaultTtl = ttlOf(args[0]!, err);
          st.ttlFromDirective = true;
          break;
        }
        case '$INCLUDE': {
          if (args.length < 1 || args.length > 2) throw err(first.line, `$INCLUDE takes a file name and an optional origin, got ${args.length} arguments`);
          if (!opts.readFile) throw err(first.line, '$INCLUDE is not allowed here');
          if (depth + 1 > MAX_INCLUDE_DEPTH) throw err(first.line, `$INCLUDE nested more than ${MAX_INCLUDE_DEPTH} deep`);
          const target = path.resolve(path.dirname(file), args[0]!.text);
          const subOrigin = args[1] ? absoluteName(args[1], st.origin, err, 'an origin domain name') : st.origin;
          let sub: string;
          try {
            sub = opts.readFile(target);
          } catch (e) {
            throw err(first.line, `cannot read $INCLUDE file '${args[0]!.text}' (${target}): ${(e as Error).message}`);
          }
          out.included.push(target);
          parseInto(sub, target, { origin: subOrigin, defaultTtl: st.defaultTtl, ttlFromDirective: st.ttlFromDirective, owner: undefined }, opts, out, depth + 1);
          break;
        }
        case '$GENERATE':
          throw err(first.line, '$GENERATE is not supported: write the records out');
        default:
          throw err(first.line, `unknown directive '${first.text}': expected $ORIGIN, $TTL or $INCLUDE`);
      }
      continue;
    }

    let owner: string;
    if (entry.blankOwner) {
      if (st.owner === undefined) throw err(entry.line, 'a record without an owner name must follow one that has one');
      owner = st.owner;
    } else {
      owner = absoluteName(first, st.origin, err, 'an owner name');
      i = 1;
    }
    st.owner = owner;

    let ttl: number | undefined;
    let cls: number | undefined;
    let type: number | undefined;
    while (type === undefined) {
      const tok = t[i];
      if (!tok) throw err(t[t.length - 1]!.line, `expected a TTL, class or type after '${t.map((x) => x.text).join(' ')}'`);
      i++;
      if (ttl === undefined && !tok.quoted && /^[0-9]/.test(tok.text)) {
        ttl = ttlOf(tok, err);
        continue;
      }
      const asClass = cls === undefined && !tok.quoted ? stringToClass(tok.text) : undefined;
      if (asClass !== undefined) {
        cls = asClass;
        continue;
      }
      type = tok.quoted ? undefined : stringToType(tok.text);
      if (type === undefined) {
        const expected = [ttl === undefined ? 'a TTL' : '', cls === undefined ? 'a class' : '', 'a record type'].filter(Boolean).join(' or ');
        throw err(tok.line, `expected ${expected}, got '${tok.text}'`);
      }
    }
    if (ttl === undefined) {
      if (st.defaultTtl === undefined) throw err(entry.line, `the ${typeToString(type)} record has no TTL and no $TTL or earlier TTL precedes it`);
      ttl = st.defaultTtl;
    } else if (!st.ttlFromDirective) {
      st.defaultTtl = ttl;
    }
    const rdataTokens = t.slice(i);
    if (rdataTokens.length === 0) throw err(t[t.length - 1]!.line, `expected RDATA for the ${typeToString(type)} record of ${owner}`);
    let data: RecordData;
    try {
      // presentation.ts tells "1" from 1 by the quotes, so quoted tokens get theirs back.
      data = parseRdata(type, rdataTokens.map((x) => (x.quoted ? `"${x.text}"` : x.text)), st.origin);
    } catch (e) {
      throw err(rdataTokens[0]!.line, `bad ${typeToString(type)} record for ${owner}: ${(e as Error).message}`);
    }
    out.records.push({ rr: { name: owner, class: cls ?? RRClass.IN, ttl, ...data } as ResourceRecord, file, line: entry.line });
  }
}

/** Checks the records against each other and the origin; returns them without duplicates. */
function validate(records: ParsedRecord[], origin: string, file: string, eofLine: number): ResourceRecord[] {
  const err = (p: ParsedRecord, what: string): ConfigError => new ConfigError(ErrorCodes.ZONEFILE_SYNTAX, p.file, p.line, `plugin/file: ${what}`);
  const out: ResourceRecord[] = [];
  const seen = new Set<string>();
  /** name → types present (for the CNAME rule). */
  const types = new Map<string, Set<number>>();
  let soa: ParsedRecord | undefined;
  for (const p of records) {
    const rr = p.rr;
    const name = normaliseName(rr.name);
    if (!isSubdomain(name, origin)) throw err(p, `${rr.name} is outside the zone ${origin}: expected names ending in ${origin}`);
    if (rr.class !== RRClass.IN) throw err(p, `class ${rr.class === RRClass.CH ? 'CH' : rr.class} is not supported: expected IN`);
    if (rr.type === RRType.NSEC3 || rr.type === 51 /* NSEC3PARAM */) throw err(p, `NSEC3 zones are not supported (${typeToString(rr.type)} at ${rr.name})`);
    if (rr.type === RRType.SOA) {
      if (name !== origin) throw err(p, `SOA record for ${rr.name} is not at the zone apex: expected ${origin}`);
      if (soa) throw err(p, `a second SOA record for ${origin} (the first is on line ${soa.line})`);
      soa = p;
    }
    const key = `${name} ${rr.type} ${rdataKey(rr)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let present = types.get(name);
    if (!present) {
      present = new Set();
      types.set(name, present);
    }
    if (rr.type === RRType.CNAME && present.has(RRType.CNAME)) throw err(p, `${rr.name} has more than one CNAME record`);
    if (rr.type === RRType.DNAME && present.has(RRType.DNAME)) throw err(p, `${rr.name} has more than one DNAME record`);
    const cnameClash = rr.type === RRType.CNAME ? [...present].find((x) => !cnameCompanion(x)) : present.has(RRType.CNAME) && !cnameCompanion(rr.type) ? rr.type : undefined;
    if (cnameClash !== undefined) {
      const other = rr.type === RRType.CNAME ? typeToString(cnameClash) : typeToString(rr.type);
      throw err(p, `${rr.name} has a CNAME and other data (${other}): a CNAME must be the only record at its name`);
    }
    present.add(rr.type);
    out.push(rr);
  }
  if (!soa) throw new ConfigError(ErrorCodes.ZONEFILE_SYNTAX, file, eofLine, `plugin/file: no SOA record for ${origin}: expected one at the zone apex`);
  return out;
}

/** Types that may share a name with a CNAME (RFC 4035 §2.5). */
function cnameCompanion(type: number): boolean {
  return type === RRType.CNAME || type === RRType.RRSIG || type === RRType.NSEC;
}

/** A comparable form of the RDATA (names compared case-insensitively). */
function rdataKey(rr: ResourceRecord): string {
  const { name: _n, ttl: _t, class: _c, ...data } = rr as ResourceRecord & Record<string, unknown>;
  return JSON.stringify(data, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    return v;
  }).toLowerCase();
}

/** `@`, relative and absolute names → absolute (case kept). */
function absoluteName(tok: ZoneToken, origin: string, err: (line: number, what: string) => ConfigError, what: string): string {
  const s = tok.text;
  let name: string;
  if (s === '@') name = origin;
  else if (endsWithDot(s)) name = s;
  else name = origin === '.' ? `${s}.` : `${s}.${origin}`;
  if (s === '' || !isValidName(name)) throw err(tok.line, `expected ${what}, got '${s}'`);
  return name;
}

function endsWithDot(s: string): boolean {
  if (!s.endsWith('.')) return false;
  let n = 0;
  for (let i = s.length - 2; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 0;
}

function canonicalOrigin(origin: string): string {
  return origin === '' ? '.' : endsWithDot(origin) ? origin : `${origin}.`;
}

/** A TTL token (seconds or BIND units: "3600", "1h30m", "2W"), at most 2^31-1 (RFC 2181 §8). */
function ttlOf(tok: ZoneToken, err: (line: number, what: string) => ConfigError): number {
  try {
    return parseTtl(tok.text);
  } catch {
    throw err(tok.line, `expected a TTL (seconds, or units such as 1h30m), got '${tok.text}'`);
  }
}

function lastLine(text: string): number {
  let n = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return text.endsWith('\n') ? n - 1 : n;
}
