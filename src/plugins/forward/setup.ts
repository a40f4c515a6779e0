/**
 * forward setup (CoreDNS plugin/forward/setup.go):
 *
 *   forward FROM TO... {
 *       except IGNORED_NAMES...
 *       force_tcp
 *       prefer_udp
 *       expire DURATION
 *       max_fails INTEGER
 *       max_connect_attempts INTEGER
 *       read_timeout DURATION
 *       health_check DURATION [no_rec] [domain FQDN]
 *       policy random|round_robin|sequential
 *       max_concurrent MAX
 *       next RCODE...
 *       next_on_nodata
 *       failover RCODE...
 *       failfast_all_unhealthy_upstreams
 *   }
 *
 * Several forward directives in one block are tried in Corefile order, each handing what it does
 * not match (or what `next` names) to the following one. tls, tls_servername, doh_method,
 * max_idle_conns, max_age, source_address and resolver are refused as not supported.
 */
import type { Directive } from '../../corefile/types.js';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import { KeyError, parseServerKey } from '../../corefile/address.js';
import { Rcode } from '../../dns/constants.js';
import type { Message } from '../../dns/message.js';
import { canonicalName, isValidName } from '../../dns/names.js';
import type { Handler, PluginInstance, PluginSetup, SetupContext } from '../../plugin/types.js';
import { AddressError, resolveTo } from './addresses.js';
import { Forwarder } from './handler.js';
import { policyByName, randomPolicy, type Policy } from './policy.js';
import { Upstream } from './upstream.js';

/** At most this many upstreams per directive (CoreDNS's max). */
export const MAX_UPSTREAMS = 15;

const NOT_SUPPORTED: Record<string, string> = {
  tls: 'DNS-over-TLS upstreams are not supported: clusterdns forwards over plain DNS (UDP and TCP) only',
  tls_servername: 'DNS-over-TLS upstreams are not supported: clusterdns forwards over plain DNS (UDP and TCP) only',
  doh_method: 'DNS-over-HTTPS upstreams are not supported: clusterdns forwards over plain DNS (UDP and TCP) only',
  max_idle_conns: 'is not supported: idle sockets are bounded per upstream and closed after `expire`',
  max_age: 'is not supported: use `expire` to bound how long idle sockets are kept',
  source_address: 'is not supported: the system picks the source address',
  resolver: 'is not supported: host name upstreams are not, give IP addresses',
};

/** What other plugins may call: resolve a name through the first forward directive that handles it. */
export interface ForwardExports {
  forwardQuery(name: string, type: number): Promise<Message>;
  /** The upstreams ("10.0.0.1:53") a query for name goes to, or undefined when no forward here handles it (explain). */
  upstreamsFor(name: string): string[] | undefined;
}

interface Parsed {
  from: string;
  ignored: string[];
  to: string[];
  policy: Policy;
  maxFails: number;
  forceTcp: boolean;
  preferUdp: boolean;
  expireMs: number;
  readTimeoutMs: number;
  maxConnectAttempts: number | undefined;
  hcIntervalMs: number;
  hcRecursionDesired: boolean;
  hcDomain: string;
  maxConcurrent: number;
  nextRcodes: number[];
  nextOnNodata: boolean;
  failoverRcodes: number[];
  failfast: boolean;
}

function zonesOf(r: DirectiveReader, s: string): string[] {
  try {
    return parseServerKey(s).map((a) => a.zone);
  } catch (err) {
    if (err instanceof KeyError) throw r.error(`unable to normalize '${s}': ${err.message}`);
    throw err;
  }
}

function rcodeOf(c: DirectiveReader, s: string): number {
  const rc = (Rcode as Record<string, number>)[s.toUpperCase()];
  if (rc === undefined) throw c.error(`${s} is not a valid rcode`);
  return rc;
}

/** One forward directive into its configuration (no sockets yet). */
export function parseStanza(d: Directive): Parsed {
  const r = new DirectiveReader(d, 'forward');
  const [fromArg, ...to] = r.args(2, Infinity);
  const from = zonesOf(r, fromArg!)[0]!; // a CIDR FROM expanding to several zones uses the first (CoreDNS)
  const p: Parsed = {
    from, ignored: [], to, policy: randomPolicy(), maxFails: 2, forceTcp: false, preferUdp: false,
    expireMs: 10_000, readTimeoutMs: 2000, maxConnectAttempts: undefined,
    hcIntervalMs: 500, hcRecursionDesired: true, hcDomain: '.', maxConcurrent: 0,
    nextRcodes: [], nextOnNodata: false, failoverRcodes: [], failfast: false,
  };
  for (const prop of r.block()) {
    const c = r.child(prop);
    const name = prop.name;
    if (NOT_SUPPORTED[name] !== undefined) {
      const why = NOT_SUPPORTED[name];
      throw c.error(why.startsWith('is ') ? `'${name}' ${why}` : `'${name}': ${why}`);
    }
    switch (name) {
      case 'except':
        for (const z of c.args(1, Infinity)) p.ignored.push(...zonesOf(c, z));
        break;
      case 'force_tcp': c.args(0); p.forceTcp = true; break;
      case 'prefer_udp': c.args(0); p.preferUdp = true; break;
      case 'max_fails': p.maxFails = c.integer(c.args(1)[0]!, 0, 4294967295); break;
      case 'max_connect_attempts': p.maxConnectAttempts = c.integer(c.args(1)[0]!, 0, 4294967295); break;
      case 'expire': p.expireMs = c.duration(c.args(1)[0]!); break;
      case 'read_timeout': {
        const v = c.args(1)[0]!;
        p.readTimeoutMs = c.duration(v);
        if (p.readTimeoutMs <= 0) throw c.error(`read_timeout must be positive: ${v}`);
        break;
      }
      case 'health_check': {
        const [dur, ...opts] = c.args(1, 4);
        p.hcIntervalMs = c.duration(dur!);
        p.hcDomain = '.';
        for (let i = 0; i < opts.length; i++) {
          if (opts[i] === 'no_rec') p.hcRecursionDesired = false;
          else if (opts[i] === 'domain') {
            const dom = opts[++i];
            if (dom === undefined) throw c.error(`health_check: 'domain' needs a name`);
            if (!isValidName(dom)) throw c.error(`health_check: invalid domain name ${dom}`);
            p.hcDomain = canonicalName(dom);
          } else throw c.error(`health_check: unknown option ${opts[i]}`);
        }
        break;
      }
      case 'policy': {
        const v = c.args(1)[0]!;
        const pol = policyByName(v);
        if (!pol) throw c.error(`unknown policy '${v}'`);
        p.policy = pol;
        break;
      }
      case 'max_concurrent': p.maxConcurrent = c.integer(c.args(1)[0]!, 0, Number.MAX_SAFE_INTEGER); break;
      case 'next': for (const s of c.args(1, Infinity)) p.nextRcodes.push(rcodeOf(c, s)); break;
      case 'next_on_nodata': c.args(0); p.nextOnNodata = true; break;
      case 'failover':
        for (const s of c.args(1, Infinity)) {
          const rc = rcodeOf(c, s);
          if (rc === Rcode.NOERROR) throw c.error('NoError cannot be used in failover');
          p.failoverRcodes.push(rc);
        }
        break;
      case 'failfast_all_unhealthy_upstreams': c.args(0); p.failfast = true; break;
      default:
        r.unknownProperty(prop);
    }
  }
  return p;
}

function build(p: Parsed, d: Directive, ctx: SetupContext): Forwarder {
  const r = new DirectiveReader(d, 'forward');
  let addrs;
  try {
    addrs = resolveTo(p.to, ctx.root);
  } catch (err) {
    if (err instanceof AddressError) throw r.error(err.message);
    throw err;
  }
  if (addrs.length === 0) throw r.error('no valid upstream addresses found');
  if (addrs.length > MAX_UPSTREAMS) throw r.error(`more than ${MAX_UPSTREAMS} TOs configured: ${addrs.length}`);
  const health = { intervalMs: p.hcIntervalMs, recursionDesired: p.hcRecursionDesired, domain: p.hcDomain, tcp: p.forceTcp };
  const upstreams = addrs.map((a) => new Upstream(a, { expireMs: p.expireMs, health, logger: ctx.logger }));
  return new Forwarder({
    from: p.from, ignored: p.ignored, upstreams, policy: p.policy, maxFails: p.maxFails,
    forceTcp: p.forceTcp, preferUdp: p.preferUdp, maxConcurrent: p.maxConcurrent,
    readTimeoutMs: p.readTimeoutMs, maxConnectAttempts: p.maxConnectAttempts,
    failfastAllUnhealthy: p.failfast, nextRcodes: p.nextRcodes, nextOnNodata: p.nextOnNodata,
    failoverRcodes: p.failoverRcodes, logger: ctx.logger,
  });
}

export const forward: PluginSetup = {
  name: 'forward',
  setup(directives, ctx): PluginInstance {
    const parsed = directives.map((d) => parseStanza(d));
    const forwarders = parsed.map((p, i) => build(p, directives[i]!, ctx));
    const exported: ForwardExports = {
      forwardQuery(name, type) {
        const canonical = canonicalName(name);
        const f = forwarders.find((fw) => fw.matches(canonical));
        if (!f) return Promise.reject(new Error(`plugin/forward: ${name} is not forwarded by this server block`));
        return f.query(name, type);
      },
      upstreamsFor(name) {
        const f = forwarders.find((fw) => fw.matches(canonicalName(name)));
        return f?.cfg.upstreams.map((u) => u.to);
      },
    };
    return {
      // The directives in Corefile order, the last one handing on to the rest of the chain.
      handler: (next) => {
        let h: Handler | undefined = next;
        for (let i = forwarders.length - 1; i >= 0; i--) {
          const nextForward = i < forwarders.length - 1 ? h : undefined;
          h = forwarders[i]!.handler(h, nextForward);
        }
        return h!;
      },
      async start() {
        for (const f of forwarders) f.start();
      },
      async stop() {
        for (const f of forwarders) f.stop();
      },
      exported,
    };
  },
};
