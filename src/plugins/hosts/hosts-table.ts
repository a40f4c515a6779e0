/**
 * Parsed /etc/hosts content: name → addresses and address → names. Only names inside the
 * plugin's zones are kept (CoreDNS's hostsfile.go). Pure: no I/O.
 */
import { isIP } from 'node:net';
import { canonicalName, isValidName } from '../../dns/names.js';
import { matchZone } from '../../plugin/zones.js';

export interface HostsTable {
  v4: Map<string, string[]>;
  v6: Map<string, string[]>;
  /** Normalised address → names (first name first, for PTR). */
  byAddr: Map<string, string[]>;
}

export function emptyTable(): HostsTable {
  return { v4: new Map(), v6: new Map(), byAddr: new Map() };
}

/** Adds the lines of a hosts file (or inline entries) to `table`. Malformed lines are skipped, as the hosts(5) readers do. */
export function addHostsLines(table: HostsTable, text: string, zones: readonly string[]): void {
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    if (!line) continue;
    const [addrRaw, ...names] = line.split(/\s+/);
    if (!addrRaw || names.length === 0) continue;
    const addr = normaliseAddress(addrRaw);
    if (!addr) continue;
    const family = isIP(addr);
    for (const n of names) {
      const name = canonicalName(n);
      if (!isValidName(name) || !matchZone(zones, name)) continue;
      const map = family === 4 ? table.v4 : table.v6;
      push(map, name, addr);
      push(table.byAddr, addr, name);
    }
  }
}

/** Strips an IPv6 zone index (fe80::1%eth0) and rejects what is not an address. */
function normaliseAddress(s: string): string | undefined {
  const a = s.split('%')[0]!;
  return isIP(a) ? a.toLowerCase() : undefined;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (!list) map.set(key, [value]);
  else if (!list.includes(value)) list.push(value);
}
