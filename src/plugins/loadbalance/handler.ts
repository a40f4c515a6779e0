/**
 * loadbalance (CoreDNS plugin/loadbalance, round_robin policy): shuffles the A, AAAA and MX
 * records of every NOERROR reply, in each section, keeping CNAMEs first (glibc's stub resolver wants
 * the chain before the addresses). With `prefer`, addresses in the preferred subnets then move to
 * the front, in the order the subnets are listed.
 */
import { BlockList, isIP } from 'node:net';
import { Rcode, RRType } from '../../dns/constants.js';
import type { Message, ResourceRecord } from '../../dns/message.js';
import { nextOrFailure } from '../../plugin/chain.js';
import type { HandlerFactory } from '../../plugin/types.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { TransformingWriter } from '../../server/transforming-writer.js';

/** One preferred subnet. */
export interface PreferSubnet {
  text: string;
  contains(address: string): boolean;
}

export function parseSubnet(cidr: string): PreferSubnet | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return undefined;
  const addr = m[1]!;
  const family = isIP(addr);
  const prefix = Number(m[2]);
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return undefined;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(addr, prefix, type);
  return {
    text: cidr,
    contains: (a) => {
      const f = isIP(a);
      return f !== 0 && list.check(a, f === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/** A uniformly random 16-bit number, as miekg/dns's dns.Id() that CoreDNS shuffles with. */
type RandomId = () => number;
const randomId: RandomId = () => Math.floor(Math.random() * 65536);

export function loadbalanceHandler(prefer: PreferSubnet[], random: RandomId = randomId): HandlerFactory {
  return (next) => ({
    name: 'loadbalance',
    serveDNS(req, w) {
      return nextOrFailure('loadbalance', next, req, new LoadBalanceWriter(w, prefer, random));
    },
  });
}

export class LoadBalanceWriter extends TransformingWriter {
  constructor(
    inner: ResponseWriter,
    private readonly prefer: PreferSubnet[],
    private readonly random: RandomId,
  ) {
    super(inner);
  }

  /** Decode only what could change: a NOERROR reply with more than one record in some section. */
  protected override mayChange(wire: Buffer): boolean {
    return (wire[3]! & 0x0f) === Rcode.NOERROR && (wire.readUInt16BE(6) > 1 || wire.readUInt16BE(8) > 1 || wire.readUInt16BE(10) > 1);
  }

  protected transform(res: Message): Message {
    const q = res.questions[0];
    if (res.rcode !== Rcode.NOERROR || !q || q.type === RRType.AXFR || q.type === RRType.IXFR) return res;
    return this.shuffle(res);
  }

  private shuffle(res: Message): Message {
    const out: Message = {
      ...res,
      answers: roundRobin(res.answers, this.random),
      authorities: roundRobin(res.authorities, this.random),
      additionals: roundRobin(res.additionals, this.random),
    };
    if (this.prefer.length > 0) {
      out.answers = preferSubnets(out.answers, this.prefer);
      out.additionals = preferSubnets(out.additionals, this.prefer);
    }
    return out;
  }
}

/**
 * CoreDNS's roundRobin: a section of only A (or only AAAA) records is shuffled as is; otherwise it
 * becomes CNAMEs, other records, shuffled addresses, shuffled MX. Never mutates `rrs` (a backend may
 * hand us records it owns).
 */
export function roundRobin(rrs: ResourceRecord[], random: RandomId): ResourceRecord[] {
  if (rrs.length <= 1) return rrs;
  const t0 = rrs[0]!.type;
  if ((t0 === RRType.A || t0 === RRType.AAAA) && rrs.every((r) => r.type === t0)) {
    const out = rrs.slice();
    shuffle(out, random);
    return out;
  }
  const cname: ResourceRecord[] = [];
  const address: ResourceRecord[] = [];
  const mx: ResourceRecord[] = [];
  const rest: ResourceRecord[] = [];
  for (const r of rrs) {
    if (r.type === RRType.CNAME) cname.push(r);
    else if (r.type === RRType.A || r.type === RRType.AAAA) address.push(r);
    else if (r.type === RRType.MX) mx.push(r);
    else rest.push(r);
  }
  shuffle(address, random);
  shuffle(mx, random);
  return [...cname, ...rest, ...address, ...mx];
}

/** CoreDNS's roundRobinShuffle (its exact swap sequence, driven by 16-bit random numbers). */
function shuffle<T>(a: T[], random: RandomId): void {
  const l = a.length;
  if (l < 2) return;
  if (l === 2) {
    if (random() % 2 === 0) [a[0], a[1]] = [a[1]!, a[0]!];
    return;
  }
  for (let j = 0; j < l; j++) {
    const p = j + (random() % (l - j));
    if (p !== j) [a[j], a[p]] = [a[p]!, a[j]!];
  }
}

/** CoreDNS's reorderRecords for `prefer`: CNAMEs, addresses (preferred subnets first, in subnet order), MX, the rest. */
export function preferSubnets(rrs: ResourceRecord[], subnets: PreferSubnet[]): ResourceRecord[] {
  const cname: ResourceRecord[] = [];
  const address: ResourceRecord[] = [];
  const mx: ResourceRecord[] = [];
  const rest: ResourceRecord[] = [];
  for (const r of rrs) {
    if (r.type === RRType.CNAME) cname.push(r);
    else if (r.type === RRType.A || r.type === RRType.AAAA) address.push(r);
    else if (r.type === RRType.MX) mx.push(r);
    else rest.push(r);
  }
  const seen = new Set<number>();
  const matched: ResourceRecord[] = [];
  for (const s of subnets) {
    address.forEach((r, i) => {
      if (!seen.has(i) && 'address' in r && s.contains(r.address)) {
        matched.push(r);
        seen.add(i);
      }
    });
  }
  const unmatched = address.filter((_, i) => !seen.has(i));
  return [...cname, ...matched, ...unmatched, ...mx, ...rest];
}
