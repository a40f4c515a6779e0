/** Zone and fallthrough helpers every plugin uses (CoreDNS's plugin.Zones and fall.F). */
import { canonicalName, isSubdomain } from '../dns/names.js';
import type { ServerAddress } from '../corefile/types.js';

/** The zones a plugin serves: the given names (canonical), or the server block's zones when none. */
export function pluginZones(args: string[], addresses: ServerAddress[]): string[] {
  if (args.length === 0) return [...new Set(addresses.map((a) => a.zone))];
  return args.map((z) => canonicalName(z));
}

/** The longest zone the name falls in, or undefined. */
export function matchZone(zones: readonly string[], name: string): string | undefined {
  let best: string | undefined;
  for (const z of zones) if (isSubdomain(name, z) && (!best || z.length > best.length)) best = z;
  return best;
}

/** `fallthrough [ZONES...]`: pass NXDOMAIN answers for these zones (all when none) to the next plugin. */
export class Fallthrough {
  private constructor(private readonly zones: string[] | undefined) {}
  static none(): Fallthrough {
    return new Fallthrough([]);
  }
  static parse(args: string[]): Fallthrough {
    return new Fallthrough(args.length === 0 ? undefined : args.map((z) => canonicalName(z)));
  }
  through(name: string): boolean {
    if (this.zones === undefined) return true;
    return matchZone(this.zones, name) !== undefined;
  }
}
