import { DirectiveReader } from '../../corefile/directive-reader.js';
import { canonicalName } from '../../dns/names.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { pluginZones } from '../../plugin/zones.js';
import { MINIMAL_DEFAULT_TTL } from './classify.js';
import { DnsCache, type CacheClassConfig, type CacheConfig } from './handler.js';

/** CoreDNS's defaults (plugin/cache/cache.go). */
const MAX_TTL = 3600;
const MAX_NTTL = 1800;
const DEFAULT_CAPACITY = 10000;
const SHARDS = 256;
/** The byte bound of each cache is its capacity times this (≈ 10 MiB for the default 9984 entries). */
export const BYTES_PER_ENTRY = 1024;

/**
 * CoreDNS splits a cache into 256 shards of max(CAPACITY/256, 4) entries: the real capacity is
 * CAPACITY rounded down to a multiple of 256, at least 1024 (10000 → 9984). We keep that number.
 */
export function effectiveCapacity(capacity: number): number {
  return Math.max(Math.floor(capacity / SHARDS), 4) * SHARDS;
}

function classConfig(capacity: number, maxTtl: number, minTtl: number): CacheClassConfig {
  const cap = effectiveCapacity(capacity);
  return { capacity: cap, maxBytes: cap * BYTES_PER_ENTRY, maxTtl, minTtl };
}

/**
 * `cache [TTL] [ZONES...] { success CAPACITY [TTL] [MINTTL]; denial CAPACITY [TTL] [MINTTL];
 * prefetch AMOUNT [[DURATION] [PERCENTAGE%]]; serve_stale [DURATION] [REFRESH_MODE];
 * servfail DURATION; disable success|denial [ZONES...]; keepttl }`
 */
export const cache: PluginSetup = {
  name: 'cache',
  setup(directives, ctx) {
    const r = new DirectiveReader(singleDirective('cache', directives), 'cache');
    let args = r.args(0, Infinity);
    let pttl = MAX_TTL;
    let nttl = MAX_NTTL;
    if (args[0] !== undefined && /^[+-]?[0-9]+$/.test(args[0])) {
      // A first argument that is a number is the TTL, otherwise it is a zone.
      const ttl = r.integer(args[0], -Infinity, Infinity);
      if (ttl <= 0) throw r.error(`cache TTL can not be zero or negative: ${ttl}`);
      pttl = ttl;
      nttl = ttl;
      args = args.slice(1);
    }
    const zones = pluginZones(args, ctx.addresses);
    let pcap = DEFAULT_CAPACITY;
    let ncap = DEFAULT_CAPACITY;
    let minpttl = MINIMAL_DEFAULT_TTL;
    let minnttl = MINIMAL_DEFAULT_TTL;
    let servfailTtl = MINIMAL_DEFAULT_TTL;
    const prefetch = { amount: 0, windowMs: 60_000, percentage: 10 };
    let staleMs = 0;
    let verifyStale = false;
    let disableSuccess: string[] = [];
    let disableDenial: string[] = [];
    let keepTtl = false;

    for (const p of r.block()) {
      const c = r.child(p);
      switch (p.name) {
        case 'success':
        case 'denial': {
          const [capArg, ttlArg, minArg] = c.args(1, 3);
          const cap = c.integer(capArg!, 0, Number.MAX_SAFE_INTEGER);
          let max = p.name === 'success' ? pttl : nttl;
          let min = p.name === 'success' ? minpttl : minnttl;
          if (ttlArg !== undefined) {
            max = c.integer(ttlArg, -Infinity, Infinity);
            if (max <= 0) throw c.error(`cache TTL can not be zero or negative: ${max}`);
          }
          if (minArg !== undefined) {
            min = c.integer(minArg, -Infinity, Infinity);
            if (min < 0) throw c.error(`cache min TTL can not be negative: ${min}`);
          }
          if (p.name === 'success') [pcap, pttl, minpttl] = [cap, max, min];
          else [ncap, nttl, minnttl] = [cap, max, min];
          break;
        }
        case 'prefetch': {
          const [amountArg, durArg, pctArg] = c.args(1, 3);
          const amount = c.integer(amountArg!, -Infinity, Infinity);
          if (amount < 0) throw c.error(`prefetch amount should be positive: ${amount}`);
          prefetch.amount = amount;
          if (durArg !== undefined) prefetch.windowMs = c.duration(durArg);
          if (pctArg !== undefined) {
            if (!pctArg.endsWith('%')) throw c.error(`last character of percentage should be '%', but is: '${pctArg.slice(-1)}'`);
            const pct = c.integer(pctArg.slice(0, -1), -Infinity, Infinity);
            if (pct < 10 || pct > 90) throw c.error(`percentage should fall in range [10, 90]: ${pct}`);
            prefetch.percentage = pct;
          }
          break;
        }
        case 'serve_stale': {
          const a = c.args(0, Infinity);
          if (a.length > 2) {
            throw c.error(`serve_stale takes at most DURATION and REFRESH_MODE here: RESPONSE_TTL, VERIFY_TIMEOUT and FAILURE_RECHECK ('${a.slice(2).join(' ')}') are not supported by clusterdns`);
          }
          staleMs = 3_600_000;
          verifyStale = false;
          if (a[0] !== undefined) {
            staleMs = c.duration(a[0]);
          }
          if (a[1] !== undefined) {
            const mode = a[1].toLowerCase();
            if (mode !== 'immediate' && mode !== 'verify') throw c.error(`invalid value for serve_stale refresh mode: ${mode}`);
            verifyStale = mode === 'verify';
          }
          break;
        }
        case 'serve_stale_policy':
          throw c.error(`'serve_stale_policy' is not supported by clusterdns`);
        case 'servfail': {
          const ms = c.duration(c.args(1)[0]!);
          if (ms > 5 * 60_000) throw c.error('caching SERVFAIL responses over 5 minutes is not permitted');
          servfailTtl = ms / 1000;
          break;
        }
        case 'disable': {
          const [kind, ...zoneArgs] = c.args(1, Infinity);
          const list = zoneArgs.length === 0 ? ['.'] : zoneArgs.map((z) => canonicalName(z));
          if (kind === 'success') disableSuccess = list;
          else if (kind === 'denial') disableDenial = list;
          else throw c.error(`cache type for disable must be "success" or "denial"`);
          break;
        }
        case 'keepttl':
          c.args(0, 0);
          keepTtl = true;
          break;
        default:
          r.unknownProperty(p);
      }
    }

    const cfg: CacheConfig = {
      zones,
      success: classConfig(pcap, pttl, minpttl),
      denial: classConfig(ncap, nttl, minnttl),
      servfailTtl,
      prefetch,
      staleMs,
      verifyStale,
      disableSuccess,
      disableDenial,
      keepTtl,
      server: `dns://:${ctx.port}`,
      logger: ctx.logger,
    };
    const c = new DnsCache(cfg);
    return {
      handler: (next) => c.withNext(next),
      exported: c,
      async start() {
        c.reportSize();
      },
      async stop() {
        c.clear();
      },
    };
  },
};
