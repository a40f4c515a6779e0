/**
 * The kubernetes plugin's query path. A query is: zone match → memo get (one map lookup plus a
 * version check per dependency) → copy of a pre-encoded reply with the ID, flags, question case
 * and OPT patched in (dns/wire-template.ts). On a miss, lookup() builds the records from the
 * store's indexes and the encoded reply is memoized until the store entries it came from change.
 * Until the first full list has been indexed the answer is SERVFAIL, never a false NXDOMAIN.
 */
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { replyTo, type Message, type ResourceRecord } from '../../dns/message.js';
import { instantiate, makeTemplate, type WireTemplate } from '../../dns/wire-template.js';
import { lookup, soaRecord, type KubeAnswer, type LookupOptions } from '../../kubernetes/lookup.js';
import { ByteArena } from '../../kubernetes/byte-arena.js';
import { AnswerMemo, SecondSighting } from '../../kubernetes/memo.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler, ProcessServices } from '../../plugin/types.js';
import { matchZone } from '../../plugin/zones.js';
import type { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import type { KubernetesConfig } from './config.js';
import type { KubeSource } from './source.js';

/** A memoized answer: the reply's template, or "not ours, pass the query on" (one shared value). */
const FALLTHROUGH = Symbol('fallthrough');
type Memoized = WireTemplate | typeof FALLTHROUGH;

/**
 * The memo in two tiers. A memoized answer cost ~2 KB of RSS when each kept its encoder Buffer
 * and deps/versions arrays; now ~0.3-0.4 KB: one memo entry, the name, a template that names its
 * place in a shared arena slab (no Buffer view of its own), the bytes there.
 * Positive answers derived from the cluster's own objects are bounded by the cluster's size; every
 * other answer (NXDOMAIN, NODATA, fallthrough, `pods insecure` addresses) is keyed by a name or
 * type the client chooses: a flood of random names filled a single 200k memo to ~400 MB of RSS
 * (the pod's limit is 170 Mi). Those go to a tier bounded like CoreDNS's default cache.
 * An answer is stored on its name's second miss only (one SecondSighting for both tiers), so names
 * asked once (a uniform sweep over a 200k-object cluster, a flood of random names) do not churn
 * entries into V8's old space; the object tier's 100k entries (~40 MB at most) hold every answer
 * of a cluster of some tens of thousands of objects. Each tier packs its replies in its own arena:
 * the other tier's negative answers go stale together on any change of the zone's serial, and
 * must not keep alive slabs that long-lived positive answers share.
 */
const OBJECT_MEMO_ENTRIES = 100_000;
const OTHER_MEMO_ENTRIES = 10_000;

export class KubernetesHandler {
  private readonly memo: AnswerMemo<Memoized>;
  private readonly otherMemo: AnswerMemo<Memoized>;
  /** Where each tier's memoized replies' bytes live (see byte-arena.ts for why not the encoder's Buffers). */
  private readonly arena = new ByteArena();
  private readonly otherArena = new ByteArena();
  /** Names (with type) missed once: admission to either memo tier. */
  private readonly missedBefore = new SecondSighting();
  readonly lookupOptions: LookupOptions;

  constructor(
    readonly cfg: KubernetesConfig,
    readonly source: KubeSource,
    private readonly services: ProcessServices,
    private readonly port: number,
    nsAddresses: string[],
  ) {
    this.memo = new AnswerMemo<Memoized>(source.store, OBJECT_MEMO_ENTRIES);
    this.otherMemo = new AnswerMemo<Memoized>(source.store, OTHER_MEMO_ENTRIES);
    this.lookupOptions = { ttl: cfg.ttl, primaryZone: cfg.primaryZone, nsAddresses };
  }

  /** Answers memoized now, both tiers (tests). */
  get memoized(): number {
    return this.memo.size + this.otherMemo.size;
  }

  /** The answer for a name, as the plugin would give it (no memo, no chasing): used by explain. */
  answer(name: string, qtype: number): { zone: string; answer: KubeAnswer } | undefined {
    const zone = matchZone(this.cfg.zones, name);
    if (!zone) return undefined;
    return { zone, answer: lookup(this.source.store, this.lookupOptions, name, qtype, zone) };
  }

  /** Synchronous but for ExternalName chasing (the Handler contract allows either). */
  serve(next: Handler | undefined, req: Request, w: ResponseWriter): number | Promise<number> {
    const name = req.name;
    const zone = matchZone(this.cfg.zones, name);
    if (!zone || req.qclass !== RRClass.IN) return nextOrFailure('kubernetes', next, req, w);
    if (!this.source.synced()) return Rcode.SERVFAIL;

    const hit = this.memo.get(name, req.qtype) ?? this.otherMemo.get(name, req.qtype);
    if (hit !== undefined) {
      if (hit === FALLTHROUGH) return nextOrFailure('kubernetes', next, req, w);
      w.writeWire(instantiate(hit, req));
      return hit.rcode;
    }

    const ans = lookup(this.source.store, this.lookupOptions, name, req.qtype, zone);
    if (ans.rcode === Rcode.REFUSED) return Rcode.REFUSED;
    if (ans.rcode === Rcode.NXDOMAIN && this.cfg.fall.through(name)) {
      if (this.missedBefore.seen(name, req.qtype)) this.otherMemo.set(name, req.qtype, ans.deps, FALLTHROUGH);
      return nextOrFailure('kubernetes', next, req, w);
    }
    // The answer depends on another server's data: built per query, not memoized.
    if (ans.chase) return this.chased(req, ans, zone).then((m) => {
      w.writeMsg(m);
      return ans.rcode;
    });
    const t = makeTemplate(this.reply(req, ans, zone));
    // Declined (a first miss): answered from the encoder's bytes, nothing copied into the arena,
    // where dead bytes would sit in slabs that later templates keep alive.
    if (!this.missedBefore.seen(name, req.qtype)) {
      w.writeWire(instantiate(t, req));
      return ans.rcode;
    }
    const fromObjects = ans.answers.length > 0 && ans.sources.some((s) => s.kind !== 'Namespace');
    // makeTemplate's wire is the whole reply (at 0).
    const placed = (fromObjects ? this.arena : this.otherArena).place(t.wire);
    const template: WireTemplate = { ...t, wire: placed.slab, at: placed.at };
    (fromObjects ? this.memo : this.otherMemo).set(name, req.qtype, ans.deps, template);
    w.writeWire(instantiate(template, req));
    return ans.rcode;
  }

  /** The reply with a lower-case question and no OPT: the template form, patched per query. */
  private reply(req: Request, ans: KubeAnswer, zone: string): Message {
    const m = replyTo({ ...req.msg, edns: undefined, questions: [{ name: req.name, type: req.qtype, class: req.qclass }] }, ans.rcode);
    delete m.edns;
    m.aa = true;
    m.rd = false;
    m.answers = ans.answers;
    m.additionals = ans.additionals;
    if (ans.authority === 'soa') m.authorities = [soaRecord(zone, this.source.store.serial, this.cfg.ttl)];
    return m;
  }

  /**
   * An ExternalName's CNAME with its target resolved through the server's own chains (file, hosts,
   * forward...), as CoreDNS's upstream lookup (plugin/pkg/upstream, backend_lookup.go A/AAAA): the
   * CNAME is kept and the target's answers, if any, follow it, whatever rcode the target's lookup
   * had (NXDOMAIN, SERVFAIL, REFUSED): the internal lookup always yields a reply, which is the only
   * condition CoreDNS checks. The TC bit of the target's reply is carried over.
   */
  private async chased(req: Request, ans: KubeAnswer, zone: string): Promise<Message> {
    const m = this.reply(req, ans, zone);
    m.questions = [{ ...req.question }];
    const target = ans.chase!;
    const up = await this.services.resolve(this.port, target.name, target.qtype, req);
    m.answers = [...m.answers, ...up.answers.filter((rr: ResourceRecord) => rr.type !== RRType.OPT)];
    if (up.tc) m.tc = true;
    return m;
  }
}
