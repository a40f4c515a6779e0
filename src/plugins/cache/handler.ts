/**
 * cache (CoreDNS plugin/cache): answers repeated questions from memory. Two caches, success
 * (NOERROR with data, delegations) and denial (NXDOMAIN, NODATA, and SERVFAIL for `servfail`), each
 * an LRU bounded both in entries and in bytes. Keyed like CoreDNS's hash: lower-cased name, type,
 * class, DO and CD bits.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { Rcode } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { bindCounter } from '../../metrics/bound.js';
import type { Message, ResourceRecord } from '../../dns/message.js';
import { asciiLower } from '../../dns/names.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { Handler } from '../../plugin/types.js';
import { matchZone } from '../../plugin/zones.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { cacheReplyType, MINIMAL_DEFAULT_TTL, minimalTtl, ReplyType, storable, typify } from './classify.js';
import { CacheItem } from './item.js';
import { wireFacts } from './wire-facts.js';
import { cacheDrops, cacheEntries, cacheEvictions, cacheHits, cacheMisses, cachePrefetches, cacheRequests, cacheServedStale } from './metrics.js';

export interface CacheClassConfig {
  /** Most entries. */
  capacity: number;
  /** Most bytes (wire size plus per-entry overhead, see item.ts). */
  maxBytes: number;
  /** Longest time an entry is kept, seconds. */
  maxTtl: number;
  /** Shortest, seconds. */
  minTtl: number;
}

export interface CacheConfig {
  zones: string[];
  success: CacheClassConfig;
  denial: CacheClassConfig;
  /** How long SERVFAIL/NOTIMP replies are kept, seconds (0: not cached). */
  servfailTtl: number;
  /** Prefetch when an item was asked `amount` times with gaps under `windowMs` and has `percentage`% of its TTL left. 0: off. */
  prefetch: { amount: number; windowMs: number; percentage: number };
  /** Serve expired entries up to this long after they expired (ms; 0: off). */
  staleMs: number;
  /** serve_stale verify: ask the backend first and serve stale only when it fails. */
  verifyStale: boolean;
  disableSuccess: string[];
  disableDenial: string[];
  keepTtl: boolean;
  /** Metric labels. */
  server: string;
  logger: Logger;
  /** Monotonic clock in ms (tests replace it). */
  now?: () => number;
  /** Wall clock in seconds for RRSIG validity (tests replace it). */
  wallSeconds?: () => number;
}

export type CacheKind = 'success' | 'denial';

export class DnsCache {
  readonly success: LRUCache<string, CacheItem>;
  readonly denial: LRUCache<string, CacheItem>;
  readonly now: () => number;
  readonly wallSeconds: () => number;
  private readonly zonesLabel: string;
  /** The per-query counters, bound to their labels once (no label hashing on the hot path). */
  private readonly hot: { requests: { inc(): void }; hitsSuccess: { inc(): void }; hitsDenial: { inc(): void }; misses: { inc(): void } };

  constructor(readonly cfg: CacheConfig) {
    this.now = cfg.now ?? (() => performance.now());
    this.wallSeconds = cfg.wallSeconds ?? (() => Date.now() / 1000);
    this.zonesLabel = cfg.zones.join(',');
    // Bound series (metrics/bound.ts): prom-client's labels() children still hash the labels per inc().
    this.hot = {
      requests: bindCounter(cacheRequests, this.labels()),
      hitsSuccess: bindCounter(cacheHits, this.labels('success')),
      hitsDenial: bindCounter(cacheHits, this.labels('denial')),
      misses: bindCounter(cacheMisses, this.labels()),
    };
    this.success = this.makeLru('success', cfg.success);
    this.denial = this.makeLru('denial', cfg.denial);
  }

  private makeLru(type: CacheKind, c: CacheClassConfig): LRUCache<string, CacheItem> {
    return new LRUCache<string, CacheItem>({
      max: c.capacity,
      maxSize: c.maxBytes,
      sizeCalculation: (item, key) => item.size + key.length,
      dispose: (_item, _key, reason) => {
        if (reason === 'evict') cacheEvictions.inc(this.labels(type));
      },
    });
  }

  labels(type: CacheKind): { server: string; type: CacheKind; zones: string; view: string };
  labels(): { server: string; zones: string; view: string };
  labels(type?: CacheKind): { server: string; zones: string; view: string; type?: CacheKind } {
    return type ? { server: this.cfg.server, type, zones: this.zonesLabel, view: '' } : { server: this.cfg.server, zones: this.zonesLabel, view: '' };
  }

  /** Sets coredns_cache_entries for both caches. */
  reportSize(): void {
    cacheEntries.set(this.labels('success'), this.success.size);
    cacheEntries.set(this.labels('denial'), this.denial.size);
  }

  withNext(next: Handler | undefined): Handler {
    return { name: 'cache', serveDNS: (req, w) => this.serve(next, req, w) };
  }

  /** Synchronous but for serve_stale verify (the Handler contract allows either): a hit needs no promise. */
  private serve(next: Handler | undefined, req: Request, w: ResponseWriter): number | Promise<number> {
    if (matchZone(this.cfg.zones, req.name) === undefined) return nextOrFailure('cache', next, req, w);
    const now = this.now();
    const key = cacheKey(req.name, req.qtype, req.qclass, req.do, req.msg.cd);
    const item = this.lookup(now, key);
    if (!item) return nextOrFailure('cache', next, req, new CacheWriter(this, req, key, w, 'client'));

    const ttl = item.ttl(now);
    if (ttl > 0) {
      if (this.shouldPrefetch(item, now)) this.tryPrefetch(next, item, req, key, now, false);
      return this.answer(item, req, w, ttl);
    }
    if (!this.cfg.verifyStale) {
      this.tryPrefetch(next, item, req, key, now, true);
      cacheServedStale.inc(this.labels());
      return this.answer(item, req, w, 0);
    }
    return this.serveVerified(next, item, req, w, key);
  }

  /** serve_stale verify: ask the backend first, serve the stale entry only when that fails. */
  private async serveVerified(next: Handler | undefined, item: CacheItem, req: Request, w: ResponseWriter, key: string): Promise<number> {
    const vw = new CacheWriter(this, req, key, w, 'verify');
    const rcode = await nextOrFailure('cache', next, req, vw);
    if (vw.refreshed) return rcode;
    cacheServedStale.inc(this.labels());
    return this.answer(item, req, w, 0);
  }

  /** Writes the cached reply with `ttl` (the original TTL with keepttl). */
  private answer(item: CacheItem, req: Request, w: ResponseWriter, ttl: number): number {
    if (this.cfg.keepTtl) ttl = item.origTTL;
    const wire = item.toWire(req, ttl);
    if (wire) w.writeWire(wire);
    else w.writeMsg(item.toMessage(req, ttl));
    return Rcode.NOERROR;
  }

  /** getIfNotStale: the item to answer from (fresh, or expired within serve_stale), counting hits and misses. */
  private lookup(now: number, key: string): CacheItem | undefined {
    this.hot.requests.inc();
    const usable = (i: CacheItem | undefined): i is CacheItem => {
      if (!i) return false;
      const ttl = i.ttl(now);
      return ttl > 0 || (this.cfg.staleMs > 0 && -ttl < Math.trunc(this.cfg.staleMs / 1000));
    };
    const n = this.denial.get(key);
    if (usable(n)) {
      // SERVFAIL is transient: a valid positive answer for the same key wins over it.
      if (n.rcode === Rcode.SERVFAIL) {
        const p = this.success.get(key);
        if (usable(p)) {
          this.hot.hitsSuccess.inc();
          return p;
        }
      }
      this.hot.hitsDenial.inc();
      return n;
    }
    const p = this.success.get(key);
    if (usable(p)) {
      this.hot.hitsSuccess.inc();
      return p;
    }
    // Entries that can never be served again only take room: drop them now rather than wait for eviction.
    if (n) this.denial.delete(key);
    if (p) this.success.delete(key);
    if (n || p) this.reportSize();
    this.hot.misses.inc();
    return undefined;
  }

  private shouldPrefetch(item: CacheItem, now: number): boolean {
    const { amount, windowMs, percentage } = this.cfg.prefetch;
    if (amount <= 0) return false;
    item.seen(windowMs, now);
    const threshold = Math.ceil((percentage / 100) * item.origTTL);
    return item.hits >= amount && item.ttl(now) <= threshold;
  }

  /** One background refresh per item at a time; the client is answered from the cache meanwhile. */
  private tryPrefetch(next: Handler | undefined, item: CacheItem, req: Request, key: string, now: number, stale: boolean): void {
    if (item.refreshing) return;
    item.refreshing = true;
    void this.prefetch(next, item, req, key, now, stale).finally(() => {
      item.refreshing = false;
    });
  }

  private async prefetch(next: Handler | undefined, item: CacheItem, req: Request, key: string, now: number, stale: boolean): Promise<void> {
    cachePrefetches.inc(this.labels());
    // No client is waiting: ask as if over TCP so the answer is never truncated (CoreDNS does the same).
    const preq = new Request(req.msg, { ...req.origin, transport: 'tcp' }, req.wire);
    preq.zone = req.zone;
    const pw = new CacheWriter(this, preq, key, undefined, stale ? 'verify' : 'client');
    try {
      await nextOrFailure('cache', next, preq, pw);
    } catch (err) {
      this.cfg.logger.debug({ err, name: req.name }, 'plugin/cache: prefetch failed');
      return;
    }
    if (stale && !pw.refreshed) return;
    const fresh = this.denial.peek(key) ?? this.success.peek(key);
    if (fresh && fresh !== item) fresh.resetFreq(now, item.hits);
  }

  /** Stores a reply that CacheWriter judged cacheable. */
  store(m: Message, key: string, t: ReplyType, durationSeconds: number): void {
    const name = asciiLower(m.questions[0]!.name);
    let target: LRUCache<string, CacheItem>;
    if (t === ReplyType.NoError || t === ReplyType.Delegation) {
      if (matchZone(this.cfg.disableSuccess, name) !== undefined) return;
      target = this.success;
    } else if (t === ReplyType.NameError || t === ReplyType.NoData || t === ReplyType.ServerError) {
      if (matchZone(this.cfg.disableDenial, name) !== undefined) return;
      target = this.denial;
    } else {
      return;
    }
    let item: CacheItem;
    try {
      item = CacheItem.fromMessage(m, this.now(), durationSeconds);
    } catch (err) {
      this.cfg.logger.debug({ err, name }, 'plugin/cache: reply cannot be stored');
      return;
    }
    target.set(key, item);
    // A positive answer is the newest state for this key (CoreDNS removes the denial on prefetch;
    // we also do it on a miss, so that an expired denial kept for serve_stale cannot shadow it).
    if (target === this.success) this.denial.delete(key);
    this.reportSize();
  }

  /**
   * Empties both caches (on stop), releasing their memory. The gauge is left alone: after a reload
   * the new config's cache reports under the same labels.
   */
  clear(): void {
    this.success.clear();
    this.denial.clear();
  }

  /** True when neither cache may hold anything for this name (`disable success` and `disable denial` both match it). */
  storesNothing(name: string): boolean {
    return matchZone(this.cfg.disableDenial, name) !== undefined && matchZone(this.cfg.disableSuccess, name) !== undefined;
  }

  /** How long a reply of type t is cached (and the TTL every record is capped to); `minimal` is minimalTtl with a maximum. */
  duration(t: ReplyType, minimal: (max: number) => number): number {
    const cfg = this.cfg;
    if (t === ReplyType.NameError || t === ReplyType.NoData) return clamp(minimal(cfg.denial.maxTtl), cfg.denial.minTtl, cfg.denial.maxTtl);
    if (t === ReplyType.ServerError) return cfg.servfailTtl;
    return clamp(minimal(cfg.success.maxTtl), cfg.success.minTtl, cfg.success.maxTtl);
  }

  countDrop(): void {
    cacheDrops.inc(this.labels());
  }
}

/** CoreDNS's hash(qname, qtype, qclass, do, cd), as a string: exact, so no collision check is needed. */
export function cacheKey(name: string, qtype: number, qclass: number, dnssecOk: boolean, cd: boolean): string {
  return `${dnssecOk ? 1 : 0}${cd ? 1 : 0}${qtype}/${qclass}/${name}`;
}

/**
 * The writer the rest of the chain answers through on a miss (CoreDNS's cache.ResponseWriter):
 * caps every TTL to the cache duration, stores the reply when it is cacheable, and passes it on.
 * Replies written as pre-encoded wire are decoded first.
 *   client: pass every reply to the client.
 *   verify: serve_stale verify — only a matching NOERROR/NXDOMAIN reply counts as a refresh and is
 *           stored and passed on; anything else is dropped, so the caller can serve the stale entry.
 * Without an inner writer (prefetch) nothing is passed on.
 */
export class CacheWriter implements ResponseWriter {
  /** verify mode: the last reply refreshed the entry. */
  refreshed = false;
  private wrote = false;

  constructor(
    private readonly cache: DnsCache,
    private readonly req: Request,
    private readonly key: string,
    private readonly inner: ResponseWriter | undefined,
    private readonly mode: 'client' | 'verify',
  ) {}

  get written(): boolean {
    return this.inner ? this.inner.written : this.wrote;
  }
  get sentBytes(): number {
    return this.inner?.sentBytes ?? 0;
  }

  writeWire(reply: Buffer): void {
    if (this.mode === 'client' && this.inner && this.passesUnchanged(reply)) {
      this.passWire(reply);
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(reply);
    } catch {
      // Not ours to judge: pass it on uncached.
      this.cache.countDrop();
      if (this.mode === 'client') this.passWire(reply);
      return;
    }
    this.writeMsg(m);
  }

  writeMsg(res: Message): void {
    const cache = this.cache;
    if (this.mode === 'verify') {
      this.refreshed = false;
      if (res.tc || !this.matches(res)) return;
      const t = typify(res, cache.wallSeconds());
      if (t === ReplyType.OtherError || t === ReplyType.Meta || t === ReplyType.Update) return;
      if (res.rcode !== Rcode.NOERROR && res.rcode !== Rcode.NXDOMAIN) return;
      this.refreshed = true;
    }
    const t = cacheReplyType(res, cache.wallSeconds());
    const duration = cache.duration(t, (max) => minimalTtl(res, t, max));
    // Every record gets the cache duration, so the client does not see 1799 then 8 (CoreDNS).
    const ttl = Math.trunc(duration);
    const capTtl = (rrs: ResourceRecord[]): ResourceRecord[] => rrs.map((r) => ({ ...r, ttl }));
    const out: Message = { ...res, answers: capTtl(res.answers), authorities: capTtl(res.authorities), additionals: capTtl(res.additionals) };
    if (storable(res, t) && duration > 0) {
      if (this.matches(res)) cache.store(out, this.key, t, duration);
      else cache.countDrop();
    }
    // Unset AD when the client did not want DNSSEC, unless it set AD itself (RFC 6840 5.7-5.8).
    if (!this.req.do && !this.req.msg.ad) out.ad = false;
    this.wrote = true;
    this.inner?.writeMsg(out);
  }

  /**
   * True when writeMsg would store nothing and send this reply exactly as it is: caching is off for
   * the name in both caches (kubeadm's `disable success/denial cluster.local`), the reply answers
   * the request's question, AD needs no clearing, and every record already carries the capped TTL
   * (the kubernetes plugin's TTL is within the cache's bounds). Then the decode, the TTL copy and the
   * re-encode below are skipped. Measured with bench/pipeline.ts (the bench cluster and query mix
   * through the kubeadm Corefile, builds A/B alternated): 14.7 → 10.8 CPU µs per query (-26%).
   */
  private passesUnchanged(reply: Buffer): boolean {
    const req = this.req;
    const cache = this.cache;
    const q = req.wire;
    if (!q || !cache.storesNothing(req.name)) return false;
    const f = wireFacts(reply);
    if (!f || f.qtype !== req.qtype || f.qclass !== req.qclass) return false;
    if ((reply[3]! & 0x20) !== 0 && !req.do && !req.msg.ad) return false;
    // The reply's question name must be the request's (ASCII case aside): request.Match.
    if (q.length < f.nameEnd || !sameNameIgnoringCase(reply, q, f.nameEnd)) return false;
    if (f.records === 0) return true;
    const denial = f.type === ReplyType.NameError || f.type === ReplyType.NoData;
    const minimal = (max: number): number =>
      f.type !== ReplyType.NoError && !denial ? MINIMAL_DEFAULT_TTL : Math.min(max, denial ? f.minDenialTtl : f.minTtl);
    const ttl = Math.trunc(cache.duration(f.type, minimal));
    return f.minTtl === ttl && f.maxTtl === ttl;
  }

  private passWire(reply: Buffer): void {
    this.wrote = true;
    this.inner?.writeWire(reply);
  }

  /** request.Match: one question, same lower-cased name, type and class. */
  private matches(res: Message): boolean {
    const q = res.questions;
    return q.length === 1 && asciiLower(q[0]!.name) === this.req.name && q[0]!.type === this.req.qtype && q[0]!.class === this.req.qclass;
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(Math.max(v, min), max);
}

/** Wire names [12, end) of a and b equal, ASCII case aside. */
function sameNameIgnoringCase(a: Buffer, b: Buffer, end: number): boolean {
  for (let i = 12; i < end; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 32;
    if (y >= 0x41 && y <= 0x5a) y += 32;
    if (x !== y) return false;
  }
  return true;
}
