/**
 * acl rules as CoreDNS's plugin/acl reads and evaluates them. Pure: no request or writer.
 *
 * Each `acl [ZONES...] { ... }` directive is one rule: its zones and its policy lines in order.
 * A query is checked against each rule whose zones contain the name, in Corefile order; within a
 * rule the first policy matching both the query type and the source address decides. A rule with
 * no matching policy defers to the next rule; `allow` ends the checks. Nothing matching: allowed.
 */
import { stringToType } from '../../dns/constants.js';
import { matchZone } from '../../plugin/zones.js';
import { CidrSet, parseCidr, parseSourceAddress } from './cidr.js';

export type Action = 'allow' | 'block' | 'filter' | 'drop';

export interface Policy {
  action: Action;
  /** Query types matched; undefined for all (`type *` or no `type` section). */
  qtypes: ReadonlySet<number> | undefined;
  sources: CidrSet;
}

export interface AclRule {
  zones: string[];
  policies: Policy[];
}

export class PolicyError extends Error {}

const ACTIONS: readonly string[] = ['allow', 'block', 'filter', 'drop'];

function isSection(token: string): boolean {
  const t = token.toLowerCase();
  return t === 'type' || t === 'net';
}

/** One policy line: `ACTION [type QTYPE...] [net SOURCE...]`. Throws PolicyError with CoreDNS's wording. */
export function parsePolicy(action: string, args: readonly string[]): Policy {
  const a = action.toLowerCase();
  if (!ACTIONS.includes(a)) throw new PolicyError(`unexpected token "${action}"; expect 'allow', 'block', 'filter' or 'drop'`);
  let qtypes: Set<number> | undefined = new Set();
  let sources: CidrSet | undefined;
  let hasType = false;
  let i = 0;
  while (i < args.length) {
    const head = args[i]!;
    if (!isSection(head)) throw new PolicyError(`unexpected token "${head}"; expect 'type | net'`);
    const section = head.toLowerCase();
    i++;
    const tokens: string[] = [];
    while (i < args.length && !isSection(args[i]!)) tokens.push(args[i++]!);
    if (tokens.length === 0) throw new PolicyError(`no token specified in "${section}" section`);
    if (section === 'type') {
      hasType = true;
      for (const t of tokens) {
        if (t === '*') {
          qtypes = undefined;
          break;
        }
        const qtype = stringToType(t);
        if (qtype === undefined) throw new PolicyError(`unexpected token "${t}"; expect legal QTYPE`);
        qtypes?.add(qtype);
      }
    } else {
      sources ??= new CidrSet();
      for (const t of tokens) {
        if (t === '*') {
          sources.addAll();
          break;
        }
        if (!parseCidr(t)) throw new PolicyError(`illegal CIDR notation "${t}"`);
        sources.add(t);
      }
    }
  }
  if (!hasType) qtypes = undefined;
  if (!sources) {
    sources = new CidrSet();
    sources.addAll();
  }
  return { action: a as Action, qtypes, sources };
}

export interface Decision {
  /** 'allow' also when nothing matched. */
  action: Action;
  /** The zone of the rule that decided (block, filter, drop). */
  zone?: string;
  /** The source address did not parse: blocked, as CoreDNS does. */
  badSource?: boolean;
}

/** What to do with a query for `name` (canonical) of `qtype` from `source` (the UDP/TCP peer address). */
export function decide(rules: readonly AclRule[], name: string, qtype: number, source: string): Decision {
  let ip: Uint8Array | undefined;
  for (const rule of rules) {
    const zone = matchZone(rule.zones, name);
    if (zone === undefined) continue;
    ip ??= parseSourceAddress(source);
    if (ip === undefined) return { action: 'block', zone, badSource: true };
    const addr = ip;
    const p = rule.policies.find((pol) => (pol.qtypes === undefined || pol.qtypes.has(qtype)) && pol.sources.contains(addr));
    if (!p) continue;
    if (p.action === 'allow') return { action: 'allow' };
    return { action: p.action, zone };
  }
  return { action: 'allow' };
}
