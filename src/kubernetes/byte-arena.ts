/**
 * Long-lived small byte strings packed into shared slabs. A memoized reply is ~50-300 bytes; kept
 * as the Buffer the encoder returned it pins a whole 8 KB slab of Node's Buffer pool, a slab
 * otherwise filled with per-query garbage: in the running server at 10k objects, 18.4k memoized
 * replies held 1,771 pool slabs (14 MB of ArrayBuffer memory for ~2 MB of replies). Copied here
 * they sit side by side, and a slab is freed once every reply in it is gone.
 *
 * Slabs are 8 KB, the pool's size, so the worst case (one surviving reply per slab, after heavy
 * churn) is no worse than keeping the encoder's Buffers. Replies that are dropped together
 * should share an arena: the kubernetes handler keeps one per memo tier, since negative answers
 * all go stale on any change of the zone's serial while positive ones live as long as their
 * objects. Larger replies get their own allocation.
 */
const SLAB = 8192;
const OWN = 1024;

export class ByteArena {
  // Plain Uint8Arrays, not Buffers: their subarray() is the cheaper one (dns/wire-template.ts).
  private slab = new Uint8Array(SLAB);
  private used = 0;

  /**
   * Copies bytes into the arena: they are then `slab[at, at + bytes.length)`, memory shared with
   * other copies from this arena only. The result is a throwaway pair: keep its two fields.
   */
  place(bytes: Uint8Array): { slab: Uint8Array; at: number } {
    const n = bytes.length;
    if (n > OWN) return { slab: new Uint8Array(bytes), at: 0 }; // a copy (Buffer#slice would share)
    if (this.used + n > SLAB) {
      this.slab = new Uint8Array(SLAB);
      this.used = 0;
    }
    const at = this.used;
    this.slab.set(bytes, at);
    // Keep the next copy 8-byte aligned (cheap, and typed-array views of the slab stay possible).
    this.used = (at + n + 7) & ~7;
    return { slab: this.slab, at };
  }
}
