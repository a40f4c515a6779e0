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
 * 1 after, plus the value it holds (see the commit for the RSS figures).
 *
 * What to store is the caller's choice; SecondSighting below is the kubernetes handler's
 * admission policy (an answer is stored on its name's second miss).
 */
import type { DepKey } from './record-store.js';

export interface VersionSource {
  version(dep: DepKey): number;
  /** The store's own copy of a key when it holds that entry (a memo then shares the string), else dep. */
  intern(dep: DepKey): DepKey;
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

export class AnswerMemo<V> {
  private readonly byType = new Map<number, Map<string, Entry<V>>>();
  private count = 0;
  /** Entries found stale (a dependency moved) and dropped by get(). */
  stale = 0;

  constructor(
    private readonly source: VersionSource,
    /** Upper bound on entries; the oldest entry of the fullest type goes first. */
    private readonly maxEntries = 100_000,
  ) {}

  get size(): number {
    return this.count;
  }

  get(name: string, qtype: number): V | undefined {
    const m = this.byType.get(qtype);
    const e = m?.get(name);
    if (!e || !m) return undefined;
    if (!this.current(e)) {
      m.delete(name);
      this.count--;
      this.stale++;
      return undefined;
    }
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

  /** Stores value for name/qtype, valid while every dep keeps its current version. */
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
    const d0 = deps[0] === undefined ? undefined : src.intern(deps[0]);
    const d1 = deps[1] === undefined ? undefined : src.intern(deps[1]);
    const d2 = deps[2] === undefined ? undefined : src.intern(deps[2]);
    let more: MoreDeps | undefined;
    if (deps.length > 3) {
      const rest = deps.slice(3).map((d) => src.intern(d));
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
