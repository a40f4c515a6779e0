/**
 * One authoritative zone in memory and its lookup, with CoreDNS's plugin/file semantics
 * (lookup.go): answers carry the apex NS in the authority section; NXDOMAIN and NODATA carry the
 * SOA; a name at or below a zone cut is a referral (NS + glue, no answer); CNAMEs are chased inside
 * the zone and, for targets the zone has no node for, through a resolver (CoreDNS's pkg/upstream);
 * DNAME is substituted (RFC 6672); wildcards are expanded at the closest encloser (RFC 4592) and an
 * empty non-terminal answers NODATA. DNSSEC records are served as data: with the DO bit set the
 * RRSIGs that cover the returned RRsets and the NSEC records of denials are added, nothing is signed.
 *
 * Pure: knows names and records, not files or sockets. Records must already be validated (see
 * zone-parser.ts): one SOA at the apex, everything inside the origin, no CNAME beside other data.
 */
import { RRType, Rcode } from '../../dns/constants.js';
import type { Message, ResourceRecord } from '../../dns/message.js';
import { canonicalName, escapeLabel, isSubdomain, nameToLabels } from '../../dns/names.js';

export type LookupResult = 'success' | 'nameError' | 'delegation' | 'noData' | 'serverFailure';

export interface LookupAnswer {
  answer: ResourceRecord[];
  ns: ResourceRecord[];
  extra: ResourceRecord[];
  result: LookupResult;
}

/**
 * Resolves a name the zone has no node for (a CNAME target outside the zone, or one only a wildcard
 * or another plugin can answer). Undefined means "nobody answered": the CNAME goes back to the client
 * as is, NOERROR. CoreDNS's upstream.Lookup through the server's own chain.
 */
export type Resolver = (name: string, type: number) => Promise<Message | undefined>;

/** CNAME hops followed inside the zone before giving up with what we have (CoreDNS: 8). */
const MAX_CNAME_HOPS = 8;
/** Nested lookups of the built-in resolver (CoreDNS bails out on the 9th pass through the zone). */
const MAX_DEPTH = 8;

type RRsets = Map<number, ResourceRecord[]>;
type SOARecord = Extract<ResourceRecord, { type: 6 }>;

export class Zone {
  /** Canonical origin ("example.org."). */
  readonly origin: string;
  readonly soa: SOARecord;
  /** The NS RRset of the apex (the authority section of positive answers). */
  readonly apexNs: ResourceRecord[];
  /** Owner name (canonical) → type → records. The apex is always present. */
  private readonly nodes = new Map<string, RRsets>();
  /** Names (inside the zone) that have a node below them: every existing name, ENTs included, with children. */
  private readonly parents = new Set<string>();
  /** Node names in DNSSEC canonical order, built on first use (NSEC denials only). */
  private sorted: string[] | undefined;

  constructor(origin: string, records: readonly ResourceRecord[]) {
    this.origin = canonicalName(origin);
    let soa: SOARecord | undefined;
    this.nodes.set(this.origin, new Map());
    for (const rr of records) {
      const name = normaliseName(rr.name);
      if (!isSubdomain(name, this.origin)) throw new Error(`record ${rr.name} is outside the zone ${this.origin}`);
      const stored = lowerTargets({ ...rr, name } as ResourceRecord);
      if (stored.type === RRType.SOA && 'serial' in stored) {
        if (name !== this.origin) throw new Error(`SOA record ${rr.name} is not at the apex of ${this.origin}`);
        soa = stored;
      }
      let node = this.nodes.get(name);
      if (!node) {
        node = new Map();
        this.nodes.set(name, node);
        for (let p = parentName(name); p !== undefined && isSubdomain(p, this.origin); p = parentName(p)) {
          if (this.parents.has(p)) break;
          this.parents.add(p);
          if (p === this.origin) break;
        }
      }
      const set = node.get(stored.type);
      if (set) set.push(stored);
      else node.set(stored.type, [stored]);
    }
    if (!soa) throw new Error(`no SOA record for ${this.origin}`);
    this.soa = soa;
    this.apexNs = this.nodes.get(this.origin)!.get(RRType.NS) ?? [];
  }

  get serial(): number {
    return this.soa.serial;
  }

  /** Number of owner names with records (the apex counts). */
  get size(): number {
    return this.nodes.size;
  }

  /**
   * Looks up a canonical qname inside the zone. `resolve` answers names the zone has no node for;
   * without one, names inside the zone are looked up here again and others are left to the client.
   */
  async lookup(qname: string, qtype: number, dnssec = false, resolve?: Resolver): Promise<LookupAnswer> {
    return this.find(canonicalName(qname), qtype, dnssec, resolve ?? this.selfResolver(dnssec, 1));
  }

  private async find(qname: string, qtype: number, dnssec: boolean, resolve: Resolver): Promise<LookupAnswer> {
    const apex = this.nodes.get(this.origin)!;
    if (qname === this.origin) {
      if (qtype === RRType.SOA) return ok(this.rrset(apex, RRType.SOA, dnssec), this.nsAuthority(dnssec), []);
      if (qtype === RRType.NS) {
        const ns = this.nsAuthority(dnssec);
        return ok(ns, [], this.glue(this.apexNs, dnssec));
      }
    }

    // Walk down from the apex, one label at a time, looking for zone cuts and DNAMEs on the way and
    // for the closest encloser of qname (the deepest existing name, empty non-terminals included).
    if (!isSubdomain(qname, this.origin)) return fail();
    let encloser = this.origin;
    let exact: RRsets | undefined;
    for (const name of [this.origin, ...namesBelow(qname, this.origin)]) {
      const node = this.nodes.get(name);
      if (!node) {
        if (this.parents.has(name)) {
          encloser = name;
          continue;
        }
        break;
      }
      encloser = name;
      if (name === qname) exact = node;

      const dname = node.get(RRType.DNAME);
      if (dname && name !== qname) {
        const cname = synthesizeCname(qname, dname[0]!);
        if (!cname || canonicalName(cname.target) === qname) return fail();
        const dnameRrs = this.withSigs(node, dname, RRType.DNAME, dnssec);
        if (qtype === RRType.CNAME) return ok([...dnameRrs, cname], this.nsAuthority(dnssec), []);
        const chased = await this.chase([cname], qtype, dnssec, resolve);
        return { ...chased, answer: [...dnameRrs, ...chased.answer] };
      }

      // NS at the apex is the zone's own; anywhere below it is a zone cut.
      const referral = name === this.origin ? undefined : this.delegation(node, name, qname, qtype, dnssec);
      if (referral) return { answer: [], ns: referral.ns, extra: referral.extra, result: 'delegation' };
    }

    if (exact) {
      const cname = exact.get(RRType.CNAME);
      if (cname && qtype !== RRType.CNAME) return this.chase(this.withSigs(exact, cname, RRType.CNAME, dnssec), qtype, dnssec, resolve);
      const rrs = exact.get(qtype);
      if (!rrs) return { answer: [], ns: [...this.soaAuthority(dnssec), ...this.typeWithSigs(exact, RRType.NSEC, dnssec)], extra: [], result: 'noData' };
      return ok(this.withSigs(exact, rrs, qtype, dnssec), this.nsAuthority(dnssec), this.additional(rrs, dnssec));
    }

    if (encloser === qname) {
      // An empty non-terminal: the name exists (there are names below it) but owns nothing.
      // CoreDNS answers NOERROR with the SOA and reports it as Success (so fallthrough applies).
      return { answer: [], ns: this.soaAuthority(dnssec, this.prevNsec(qname, dnssec)), extra: [], result: 'success' };
    }

    const wildName = '*.' + (encloser === '.' ? '' : encloser);
    const wild = this.nodes.get(wildName);
    if (wild) {
      const cname = wild.get(RRType.CNAME);
      if (cname && qtype !== RRType.CNAME) {
        return this.chase(renamed(this.withSigs(wild, cname, RRType.CNAME, dnssec), qname), qtype, dnssec, resolve);
      }
      const rrs = wild.get(qtype);
      if (!rrs) return { answer: [], ns: [...this.soaAuthority(dnssec), ...this.typeWithSigs(wild, RRType.NSEC, dnssec)], extra: [], result: 'noData' };
      const synthesized = renamed(rrs, qname);
      const auth = this.nsAuthority(dnssec);
      if (dnssec) auth.push(...this.prevNsec(qname, true)); // no closer name exists
      return ok(renamed(this.withSigs(wild, rrs, qtype, dnssec), qname), auth, this.additional(synthesized, dnssec));
    }
    if (this.parents.has(wildName)) {
      // The wildcard exists only as an empty non-terminal: it matches, and owns nothing.
      return { answer: [], ns: this.soaAuthority(dnssec), extra: [], result: 'noData' };
    }

    const auth = this.soaAuthority(dnssec);
    if (dnssec) {
      const deny = this.prevNsec(qname, true);
      auth.push(...deny);
      const wildDeny = this.prevNsec(wildName, true);
      if (wildDeny.length > 0 && wildDeny[0]!.name !== deny[0]?.name) auth.push(...wildDeny);
    }
    return { answer: [], ns: auth, extra: [], result: 'nameError' };
  }

  /**
   * Follows a CNAME chain that starts with `start` (CoreDNS's externalLookup): inside the zone node
   * by node, stopping at a zone cut (referral, answer kept) or at a name the zone has no node for,
   * which goes to the resolver.
   */
  private async chase(start: ResourceRecord[], qtype: number, dnssec: boolean, resolve: Resolver): Promise<LookupAnswer> {
    const rrs = [...start];
    let target = canonicalName(cnameTarget(start));
    for (let hops = 0; ; hops++) {
      const node = isSubdomain(target, this.origin) ? this.nodes.get(target) : undefined;
      const cut = this.findDelegation(target, qtype, dnssec, node);
      if (cut) return { answer: rrs, ns: cut.ns, extra: cut.extra, result: 'delegation' };
      if (!node || qtype === RRType.NS || (qtype === RRType.SOA && target === this.origin)) {
        const { answer, result } = await upstream(resolve, target, qtype);
        rrs.push(...answer);
        const ns = result === 'nameError' || result === 'noData' ? this.soaAuthority(dnssec) : this.nsAuthority(dnssec);
        return { answer: rrs, ns, extra: this.additional(rrs, dnssec), result };
      }
      const cname = node.get(RRType.CNAME);
      if (!cname) {
        const found = node.get(qtype);
        if (found) rrs.push(...this.withSigs(node, found, qtype, dnssec));
        return ok(rrs, this.nsAuthority(dnssec), this.additional(rrs, dnssec));
      }
      rrs.push(...this.withSigs(node, cname, RRType.CNAME, dnssec));
      if (hops + 1 > MAX_CNAME_HOPS) return ok(rrs, this.nsAuthority(dnssec), this.additional(rrs, dnssec));
      target = canonicalName(cnameTarget(cname));
    }
  }

  /** The first zone cut between the apex (exclusive) and name (inclusive), as a referral. */
  private findDelegation(name: string, qtype: number, dnssec: boolean, exact: RRsets | undefined): { ns: ResourceRecord[]; extra: ResourceRecord[] } | undefined {
    if (name === this.origin || !isSubdomain(name, this.origin)) return undefined;
    for (const n of namesBelow(name, this.origin)) {
      const node = n === name ? exact : this.nodes.get(n);
      if (!node) continue;
      const cut = this.delegation(node, n, name, qtype, dnssec);
      if (cut) return cut;
    }
    return undefined;
  }

  /** A referral when `node` (named `name`, below the apex) has NS records; a DS query at the cut itself is ours to answer. */
  private delegation(node: RRsets, name: string, qname: string, qtype: number, dnssec: boolean): { ns: ResourceRecord[]; extra: ResourceRecord[] } | undefined {
    const ns = node.get(RRType.NS);
    if (!ns || (qtype === RRType.DS && name === qname)) return undefined;
    const extra = this.glue(ns, dnssec);
    return { ns: dnssec ? [...ns, ...this.typeWithSigs(node, RRType.DS, true)] : [...ns], extra };
  }

  /** A and AAAA (with signatures under DO) for NS targets below the NS owner (CoreDNS tree.Glue). */
  private glue(nsrrs: readonly ResourceRecord[], dnssec: boolean): ResourceRecord[] {
    const out: ResourceRecord[] = [];
    for (const rr of nsrrs) {
      if (!('target' in rr)) continue;
      const target = canonicalName(rr.target);
      if (!isSubdomain(target, rr.name)) continue;
      const node = this.nodes.get(target);
      if (!node) continue;
      out.push(...this.typeWithSigs(node, RRType.A, dnssec), ...this.typeWithSigs(node, RRType.AAAA, dnssec));
    }
    return out;
  }

  /** Addresses of in-zone MX and SRV targets, each target once (CoreDNS additionalProcessing). */
  private additional(answer: readonly ResourceRecord[], dnssec: boolean): ResourceRecord[] {
    const out: ResourceRecord[] = [];
    const seen = new Set<string>();
    for (const rr of answer) {
      let name: string | undefined;
      if (rr.type === RRType.MX && 'exchange' in rr) name = rr.exchange;
      else if (rr.type === RRType.SRV && 'target' in rr) name = rr.target;
      if (name === undefined) continue;
      const target = canonicalName(name);
      if (!isSubdomain(target, this.origin) || seen.has(target)) continue;
      seen.add(target);
      const node = this.nodes.get(target);
      if (!node) continue;
      out.push(...this.typeWithSigs(node, RRType.A, dnssec), ...this.typeWithSigs(node, RRType.AAAA, dnssec));
    }
    return out;
  }

  private soaAuthority(dnssec: boolean, extra: ResourceRecord[] = []): ResourceRecord[] {
    return [...this.rrset(this.nodes.get(this.origin)!, RRType.SOA, dnssec), ...extra];
  }

  private nsAuthority(dnssec: boolean): ResourceRecord[] {
    return this.rrset(this.nodes.get(this.origin)!, RRType.NS, dnssec);
  }

  private rrset(node: RRsets, type: number, dnssec: boolean): ResourceRecord[] {
    return this.typeWithSigs(node, type, dnssec);
  }

  private typeWithSigs(node: RRsets, type: number, dnssec: boolean): ResourceRecord[] {
    const rrs = node.get(type);
    return rrs ? this.withSigs(node, rrs, type, dnssec) : [];
  }

  /** `rrs` plus, under DO, the node's RRSIGs that cover `type`. */
  private withSigs(node: RRsets, rrs: readonly ResourceRecord[], type: number, dnssec: boolean): ResourceRecord[] {
    if (!dnssec) return [...rrs];
    const sigs = node.get(RRType.RRSIG);
    return sigs ? [...rrs, ...sigs.filter((s) => typeCovered(s) === type)] : [...rrs];
  }

  /** The NSEC (and its RRSIGs) of the name canonically before `name` (CoreDNS tree.Prev), under DO. */
  private prevNsec(name: string, dnssec: boolean): ResourceRecord[] {
    if (!dnssec) return [];
    const prev = this.prev(name);
    if (prev === undefined) return [];
    return this.typeWithSigs(this.nodes.get(prev)!, RRType.NSEC, true);
  }

  private prev(name: string): string | undefined {
    if (!this.sorted) this.sorted = [...this.nodes.keys()].sort(canonicalCompare);
    const s = this.sorted;
    let lo = 0;
    let hi = s.length; // first index with s[i] >= name
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (canonicalCompare(s[mid]!, name) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? s[lo - 1] : undefined;
  }

  /** The resolver used when the caller gives none: this zone again for its own names, nothing for others. */
  private selfResolver(dnssec: boolean, depth: number): Resolver {
    return async (name, type) => {
      if (!isSubdomain(name, this.origin)) return undefined;
      if (depth > MAX_DEPTH) return messageOf(name, type, Rcode.SERVFAIL, []);
      const r = await this.find(name, type, dnssec, this.selfResolver(dnssec, depth + 1));
      const rcode = r.result === 'nameError' ? Rcode.NXDOMAIN : r.result === 'serverFailure' ? Rcode.SERVFAIL : Rcode.NOERROR;
      return messageOf(name, type, rcode, r.answer);
    };
  }
}

/** CoreDNS's Zone.Insert lower-cases NS, CNAME, DNAME and MX targets and the SOA names (SRV and PTR targets keep their case). */
function lowerTargets(rr: ResourceRecord): ResourceRecord {
  switch (rr.type) {
    case RRType.NS:
    case RRType.CNAME:
    case RRType.DNAME:
      if ('target' in rr) rr.target = canonicalName(rr.target);
      break;
    case RRType.MX:
      if ('exchange' in rr) rr.exchange = canonicalName(rr.exchange);
      break;
    case RRType.SOA:
      if ('mname' in rr) {
        rr.mname = canonicalName(rr.mname);
        rr.rname = canonicalName(rr.rname);
      }
      break;
    default:
      break;
  }
  return rr;
}

function ok(answer: ResourceRecord[], ns: ResourceRecord[], extra: ResourceRecord[]): LookupAnswer {
  return { answer, ns, extra, result: 'success' };
}

function fail(): LookupAnswer {
  return { answer: [], ns: [], extra: [], result: 'serverFailure' };
}

/** Maps what the resolver said to a lookup result (CoreDNS doLookup). */
async function upstream(resolve: Resolver, name: string, type: number): Promise<{ answer: ResourceRecord[]; result: LookupResult }> {
  let m: Message | undefined;
  try {
    m = await resolve(name, type);
  } catch {
    return { answer: [], result: 'serverFailure' };
  }
  if (!m) return { answer: [], result: 'success' };
  if (m.rcode === Rcode.NXDOMAIN) return { answer: m.answers, result: 'nameError' };
  if (m.rcode === Rcode.SERVFAIL) return { answer: m.answers, result: 'serverFailure' };
  if (m.rcode === Rcode.NOERROR && m.answers.length === 0) return { answer: [], result: 'noData' };
  return { answer: m.answers, result: 'success' };
}

function messageOf(name: string, type: number, rcode: number, answers: ResourceRecord[]): Message {
  return {
    id: 0, qr: true, opcode: 0, aa: true, tc: false, rd: false, ra: false, z: false, ad: false, cd: false, rcode,
    questions: [{ name, type, class: 1 }], answers, authorities: [], additionals: [],
  };
}

function cnameTarget(rrs: readonly ResourceRecord[]): string {
  const first = rrs[0];
  return first && 'target' in first ? first.target : '.';
}

/** Copies of `rrs` owned by `name` (wildcard synthesis). */
function renamed(rrs: readonly ResourceRecord[], name: string): ResourceRecord[] {
  return rrs.map((rr) => ({ ...rr, name }) as ResourceRecord);
}

/** RFC 6672 substitution: qname below the DNAME owner, with the owner suffix replaced by the target. */
export function synthesizeCname(qname: string, dname: ResourceRecord): (ResourceRecord & { target: string }) | undefined {
  if (!('target' in dname)) return undefined;
  const owner = dname.name;
  if (qname === owner || !isSubdomain(qname, owner)) return undefined;
  const prefix = owner === '.' ? qname.slice(0, -1) : qname.slice(0, qname.length - owner.length - 1);
  const target = dname.target === '.' ? prefix + '.' : `${prefix}.${dname.target.endsWith('.') ? dname.target : dname.target + '.'}`;
  const labels = nameToLabels(target);
  if (!labels || labels.reduce((n, l) => n + l.length + 1, 1) > 255) return undefined;
  return { name: qname, class: dname.class, ttl: dname.ttl, type: RRType.CNAME, target };
}

/** The type an RRSIG covers (first two bytes of its RDATA); -1 for anything else. */
export function typeCovered(rr: ResourceRecord): number {
  if (rr.type !== RRType.RRSIG || !('rdata' in rr) || rr.rdata.length < 2) return -1;
  return (rr.rdata[0]! << 8) | rr.rdata[1]!;
}

/** The name without its first label; undefined for the root. */
export function parentName(name: string): string | undefined {
  if (name === '.') return undefined;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2e) return i === name.length - 1 ? '.' : name.slice(i + 1);
  }
  return '.';
}

/** The names from just below `zone` down to `name` (inclusive), top-down; empty when name is the zone. */
function namesBelow(name: string, zone: string): string[] {
  const out: string[] = [];
  for (let n: string | undefined = name; n !== undefined && n !== zone; n = parentName(n)) out.push(n);
  return out.reverse();
}

/**
 * One spelling per name: lower case, and escapes as the wire decoder prints them (`\046` and `\.`
 * are the same byte; queries arrive in the decoder's form). CoreDNS's canonicalEscape.
 */
export function normaliseName(name: string): string {
  const lower = canonicalName(name);
  if (!/[\\\x80-\uffff]/.test(lower)) return lower;
  const labels = nameToLabels(lower);
  if (!labels) return lower;
  if (labels.length === 0) return '.';
  return labels.map((l) => canonicalName(escapeLabel(l, 0, l.length)).slice(0, -1)).join('.') + '.';
}

/** RFC 4034 §6.1 canonical order: by labels from the right, each compared as lower-cased bytes. */
export function canonicalCompare(a: string, b: string): number {
  if (a === b) return 0;
  const la = nameToLabels(a) ?? [];
  const lb = nameToLabels(b) ?? [];
  for (let i = la.length - 1, j = lb.length - 1; i >= 0 && j >= 0; i--, j--) {
    const x = la[i]!;
    const y = lb[j]!;
    const n = Math.min(x.length, y.length);
    for (let k = 0; k < n; k++) {
      const cx = lowerByte(x[k]!);
      const cy = lowerByte(y[k]!);
      if (cx !== cy) return cx - cy;
    }
    if (x.length !== y.length) return x.length - y.length;
  }
  return la.length - lb.length;
}

function lowerByte(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}
