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
 */
import type { DepKey } from './record-store.js';

export interface VersionSource {
  version(dep: DepKey): number;
}

interface Entry<V> {
  value: V;
  deps: readonly DepKey[];
  versions: number[];
}

export class AnswerMemo<V> {
  private readonly byType = new Map<number, Map<string, Entry<V>>>();
  private count = 0;
  hits = 0;
  misses = 0;
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
    if (!e || !m) {
      this.misses++;
      return undefined;
    }
    const { deps, versions } = e;
    for (let i = 0; i < deps.length; i++) {
      if (this.source.version(deps[i] as DepKey) !== versions[i]) {
        m.delete(name);
        this.count--;
        this.stale++;
        this.misses++;
        return undefined;
      }
    }
    this.hits++;
    return e.value;
  }

  /** Stores value for name/qtype, valid while every dep keeps its current version. */
  set(name: string, qtype: number, deps: readonly DepKey[], value: V): void {
    let m = this.byType.get(qtype);
    if (!m) {
      m = new Map();
      this.byType.set(qtype, m);
    }
    const had = m.delete(name);
    if (!had) {
      if (this.count >= this.maxEntries) this.evictOne();
      this.count++;
    }
    m.set(name, { value, deps, versions: deps.map((d) => this.source.version(d)) });
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
