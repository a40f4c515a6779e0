/**
 * A memo of answers per (qtype, name) that stays valid exactly as long as the record-store
 * entries the answer was computed from (KubeAnswer.deps): each entry keeps the version of every
 * dependency when it was stored and is dropped on the first get() after one of them moved.
 * Nothing is invalidated eagerly and nothing needs a reverse index: a stale entry costs one
 * failed get. See record-store.ts for the version semantics.
 *
 * Use it synchronously: get → (miss) lookup → encode → set, with no await in between, so the
 * versions set() reads are the ones lookup() saw. A Node process is single-threaded, so the
 * store cannot change inside that window.
 *
 * Memory. Under the bench's query mix the memo holds ~18k answers, so its per-entry overhead is
 * most of what a server gains under load. An entry is one object: the first three dependencies
 * (almost every answer has two or three: namespace, service, and the serial for negative answers)
 * and their versions are fields, not a `deps` array plus a `versions` array; further ones go to
 * one overflow object.
 * Dependency keys are interned through the store (`intern`), so an entry shares the store's key
 * strings instead of holding the copies lookup() built. Measured in the running server at 10k
 * objects after the bench mix (18.4k entries, heap snapshot): ~5 heap objects an entry before,
 * 1 after (see the commit for the RSS figures).
 */
import type { DepKey } from './record-store.js';

export interface VersionSource {
  version(dep: DepKey): number;
  /** The store's own copy of a key when it holds that entry (a memo then shares the string), else dep. */
  intern?(dep: DepKey): DepKey;
}

/** Dependencies beyond the first three (rare: reverse answers for an IP several objects share, with a `namespaces` filter). */
interface MoreDeps {
  readonly deps: DepKey[];
  readonly versions: number[];
}

class Entry<V> {
  constructor(
    readonly value: V,
    readonly dep0: DepKey | undefined,
    readonly ver0: number,
    readonly dep1: DepKey | undefined,
    readonly ver1: number,
    readonly dep2: DepKey | undefined,
    readonly ver2: number,
    readonly more: MoreDeps | undefined,
  ) {}
}

/**
 * "Seen once before?" for (qtype, name), in a fixed 256 KB bit set (a doorkeeper, as in TinyLFU):
 * one bit per hash of the pair, all cleared once an eighth of them has been newly set (262,144
 * first sightings), so a pair counts as seen if it was asked since the last clearing. A false
 * "seen" (another pair set the same bit) admits that pair on its first miss: 0% of first
 * sightings right after a clearing, 12% just before the next, ~6% on average.
 */
export class SecondSighting {
  private static readonly BITS = 1 << 21;
  private static readonly CLEAR_AFTER = SecondSighting.BITS >>> 3;
  private readonly words = new Int32Array(SecondSighting.BITS >>> 5);
  private marked = 0;

  /** Whether the pair was seen since the last clearing; marks it seen either way. */
  seen(name: string, qtype: number): boolean {
    // FNV-1a over the UTF-16 code units and the type.
    let h = 0x811c9dc5 ^ qtype;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    h &= SecondSighting.BITS - 1;
    const w = h >>> 5;
    const bit = 1 << (h & 31);
    const word = this.words[w]!;
    if ((word & bit) !== 0) return true;
    this.words[w] = word | bit;
    if (++this.marked >= SecondSighting.CLEAR_AFTER) {
      this.words.fill(0);
      this.marked = 0;
    }
    return false;
  }
}

export interface MemoOptions {
  /** Upper bound on entries; the oldest entry of the fullest type goes first. Default 100,000. */
  maxEntries?: number;
  /**
   * admit() says yes only on the second miss of a (qtype, name) (SecondSighting). Without it,
   * names asked once — a uniform sweep over a 200k-object cluster, a flood of random names —
   * each made an entry that lived until evicted: the memo churned, every entry reached V8's old
   * space, and the heap grew ~100 MB before each full collection at 200k objects under load.
   */
  admitOnSecondMiss?: boolean;
}

export class AnswerMemo<V> {
  private readonly byType = new Map<number, Map<string, Entry<V>>>();
  private readonly maxEntries: number;
  private readonly doorkeeper: SecondSighting | undefined;
  private count = 0;
  hits = 0;
  misses = 0;
  stale = 0;
  /** Misses admit() turned down because their name had not been asked before (admitOnSecondMiss). */
  declined = 0;

  constructor(
    private readonly source: VersionSource,
    options: MemoOptions | number = {},
  ) {
    const o = typeof options === 'number' ? { maxEntries: options } : options;
    this.maxEntries = o.maxEntries ?? 100_000;
    this.doorkeeper = o.admitOnSecondMiss ? new SecondSighting() : undefined;
  }

  get size(): number {
    return this.count;
  }

  get(name: string, qtype: number): V | undefined {
    const m = this.byType.get(qtype);
    const e = m?.get(name);
    if (!e || !m) {
      this.misses++;
      return undefined;
    }
    if (!this.current(e)) {
      m.delete(name);
      this.count--;
      this.stale++;
      this.misses++;
      return undefined;
    }
    this.hits++;
    return e.value;
  }

  private current(e: Entry<V>): boolean {
    const src = this.source;
    if (e.dep0 === undefined) return true;
    if (src.version(e.dep0) !== e.ver0) return false;
    if (e.dep1 === undefined) return true;
    if (src.version(e.dep1) !== e.ver1) return false;
    if (e.dep2 === undefined) return true;
    if (src.version(e.dep2) !== e.ver2) return false;
    const more = e.more;
    if (more === undefined) return true;
    for (let i = 0; i < more.deps.length; i++) {
      if (src.version(more.deps[i] as DepKey) !== more.versions[i]) return false;
    }
    return true;
  }

  /**
   * Whether an answer for name/qtype, just missed, should be stored with set(): always, unless
   * admitOnSecondMiss, then only when the pair was missed before since the doorkeeper last
   * cleared (a stale entry's name usually was: its bit was set when it was first stored). Call it
   * once per miss, before building what set() would keep, so that a declined answer costs nothing
   * to keep. Marks the pair seen.
   */
  admit(name: string, qtype: number): boolean {
    if (this.doorkeeper === undefined || this.doorkeeper.seen(name, qtype)) return true;
    this.declined++;
    return false;
  }

  /** Stores value for name/qtype, valid while every dep keeps its current version (see admit()). */
  set(name: string, qtype: number, deps: readonly DepKey[], value: V): void {
    let m = this.byType.get(qtype);
    const had = m !== undefined && m.delete(name);
    if (!m) {
      m = new Map();
      this.byType.set(qtype, m);
    }
    if (!had) {
      if (this.count >= this.maxEntries) this.evictOne();
      this.count++;
    }
    const src = this.source;
    const key = (d: DepKey): DepKey => (src.intern ? src.intern(d) : d);
    const d0 = deps[0] === undefined ? undefined : key(deps[0]);
    const d1 = deps[1] === undefined ? undefined : key(deps[1]);
    const d2 = deps[2] === undefined ? undefined : key(deps[2]);
    let more: MoreDeps | undefined;
    if (deps.length > 3) {
      const rest = deps.slice(3).map(key);
      more = { deps: rest, versions: rest.map((d) => src.version(d)) };
    }
    m.set(name, new Entry(value, d0, d0 === undefined ? 0 : src.version(d0), d1, d1 === undefined ? 0 : src.version(d1),
      d2, d2 === undefined ? 0 : src.version(d2), more));
  }

  clear(): void {
    this.byType.clear();
    this.count = 0;
  }

  private evictOne(): void {
    let fullest: Map<string, Entry<V>> | undefined;
    for (const m of this.byType.values()) if (!fullest || m.size > fullest.size) fullest = m;
    const first = fullest?.keys().next();
    if (fullest && first && !first.done) {
      fullest.delete(first.value);
      this.count--;
    }
  }
}
