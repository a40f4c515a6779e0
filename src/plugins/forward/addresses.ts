/**
 * forward's TO arguments (CoreDNS plugin/pkg/parse HostPortOrFile, plugin/pkg/transport):
 *
 *   10.0.0.1   10.0.0.1:5353   dns://10.0.0.1[:port]   2001:db8::1   [2001:db8::1]:5353
 *   /etc/resolv.conf   resolv.conf (relative to the Corefile's directory)
 *
 * A file is read as resolv.conf: every `nameserver IP` line, port 53 (resolv.conf has no port);
 * a file without nameservers adds nothing. Addresses are deduplicated, first seen wins.
 * tls://, https:// and host names are CoreDNS features we do not have: they are refused with a
 * message that says so rather than misread as a file name.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { joinHostPort, type UpstreamAddress } from './upstream.js';

export class AddressError extends Error {}

const DNS_PORT = 53;

/** Splits "dns://", checks the scheme. */
function stripScheme(to: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(to);
  if (!m) return to;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'dns') return m[2]!;
  if (scheme === 'tls' || scheme === 'https' || scheme === 'grpc' || scheme === 'quic' || scheme === 'h3') {
    throw new AddressError(`'${scheme}://' upstreams (${to}) are not supported: clusterdns forwards over plain DNS (UDP and TCP) only`);
  }
  throw new AddressError(`'${scheme}' is not supported as a destination protocol in forward: ${to}`);
}

function port(s: string, to: string): number {
  if (!/^[0-9]{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535) throw new AddressError(`invalid port '${s}' in ${to}: a port must be 1-65535`);
  return Number(s);
}

/** An IP literal (IPv6 may carry a %zone), or undefined. */
function ipHost(s: string): string | undefined {
  const bare = s.replace(/%[^%]*$/, '');
  return net.isIP(bare) !== 0 ? s : undefined;
}

/** One TO address that is not a file: host and port, or undefined when it is not an address at all. */
export function parseHostPort(to: string): UpstreamAddress | undefined {
  const rest = stripScheme(to);
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    const host = ipHost(bracket[1]!);
    if (!host || net.isIPv6(host.replace(/%.*$/, '')) === false) throw new AddressError(`invalid IPv6 address in ${to}`);
    return { host, port: bracket[2] === undefined ? DNS_PORT : port(bracket[2], to) };
  }
  const whole = ipHost(rest);
  if (whole) return { host: whole, port: DNS_PORT };
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && rest.indexOf(':') === colon) {
    const host = ipHost(rest.slice(0, colon));
    if (host && net.isIPv4(host)) return { host, port: port(rest.slice(colon + 1), to) };
  }
  return undefined;
}

/** The nameservers of a resolv.conf text, port 53, zone ids stripped as CoreDNS does. */
export function parseResolvConf(text: string): UpstreamAddress[] {
  const out: UpstreamAddress[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const f = line.split(/\s+/);
    if (f[0] !== 'nameserver' || f[1] === undefined) continue;
    const host = f[1].replace(/%.*$/, '');
    if (net.isIP(host) !== 0) out.push({ host, port: DNS_PORT });
  }
  return out;
}

/**
 * All TO arguments into upstream addresses, in order, deduplicated. Relative file paths are
 * resolved from `root`. Throws AddressError with the reason.
 */
export function resolveTo(args: readonly string[], root: string): UpstreamAddress[] {
  const out: UpstreamAddress[] = [];
  const seen = new Set<string>();
  const add = (a: UpstreamAddress): void => {
    const key = joinHostPort(a.host, a.port);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(a);
  };
  for (const to of args) {
    const hp = parseHostPort(to);
    if (hp) {
      add(hp);
      continue;
    }
    const file = path.resolve(root, stripScheme(to));
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?(:[0-9]+)?$/.test(to) && !to.includes('/')) {
        throw new AddressError(`not an IP address or file: '${to}' (host name upstreams are not supported: give an IP address)`);
      }
      throw new AddressError(`not an IP address or file: '${to}' (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`);
    }
    for (const a of parseResolvConf(text)) add(a);
  }
  return out;
}
