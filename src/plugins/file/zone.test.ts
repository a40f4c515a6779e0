/**
 * Zone lookups as tables of DNS cases (CoreDNS's test.Case): qname and qtype in, rcode, AA and the
 * three sections out, records written as zone-file text and compared in presentation form.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Rcode, RRClass, RRType, typeToString } from '../../dns/constants.js';
import { emptyHeader, type Message, type ResourceRecord } from '../../dns/message.js';
import { parseRR, rrToString } from '../../dns/presentation.js';
import { Fallthrough } from '../../plugin/zones.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { FileHandler, ZoneSource } from './handler.js';
import { parseZone } from './zone-parser.js';
import { canonicalCompare, parentName, synthesizeCname } from './zone.js';

const ZONE = `
$ORIGIN example.org.
$TTL 1800
@          IN SOA   ns1 hostmaster 2024010101 14400 3600 604800 300
           IN NS    ns1
           IN NS    ns.example.net.
           IN MX    10 mail
           IN A     192.0.2.1
ns1        IN A     192.0.2.53
           IN AAAA  2001:db8::53
mail       IN A     192.0.2.25
           IN AAAA  2001:db8::25
www        IN A     192.0.2.10
alias      IN CNAME www
Upper      IN CNAME WWW.Example.ORG.
chain      IN CNAME alias
ext        IN CNAME www.example.net.
dangling   IN CNAME nothere
tosub      IN CNAME host.sub
towild     IN CNAME x.w
loop1      IN CNAME loop2
loop2      IN CNAME loop1
_http._tcp IN SRV   0 5 80 www
           IN SRV   1 5 80 www
*.w        IN TXT   "wild"
*.w        IN MX    10 mail
a.b.c.w    IN TXT   "not wild"
*.cw       IN CNAME www
host.deep.ent IN A  192.0.2.150
x.*.ew     IN A     192.0.2.151
sub        IN NS    ns1.sub
sub        IN NS    ns.example.net.
ns1.sub    IN A     192.0.2.200
dn         IN DNAME example.net.
`;

const soa = 'example.org. 1800 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 14400 3600 604800 300';
const apexNs = ['example.org. 1800 IN NS ns1.example.org.', 'example.org. 1800 IN NS ns.example.net.'];
const subNs = ['sub.example.org. 1800 IN NS ns1.sub.example.org.', 'sub.example.org. 1800 IN NS ns.example.net.'];

interface Case {
  qname: string;
  qtype: number;
  rcode?: number;
  aa?: boolean;
  answer?: string[];
  ns?: string[];
  extra?: string[];
  /** Only the answer count is checked (long CNAME loops). */
  answerCount?: number;
}

const cases: Case[] = [
  { qname: 'www.example.org.', qtype: RRType.A, answer: ['www.example.org. 1800 IN A 192.0.2.10'], ns: apexNs },
  { qname: 'WwW.Example.ORG.', qtype: RRType.A, answer: ['www.example.org. 1800 IN A 192.0.2.10'], ns: apexNs },
  { qname: 'example.org.', qtype: RRType.SOA, answer: [soa], ns: apexNs },
  { qname: 'example.org.', qtype: RRType.NS, answer: apexNs, extra: ['ns1.example.org. 1800 IN A 192.0.2.53', 'ns1.example.org. 1800 IN AAAA 2001:db8::53'] },
  { qname: 'example.org.', qtype: RRType.MX, answer: ['example.org. 1800 IN MX 10 mail.example.org.'], ns: apexNs, extra: ['mail.example.org. 1800 IN A 192.0.2.25', 'mail.example.org. 1800 IN AAAA 2001:db8::25'] },
  { qname: 'example.org.', qtype: RRType.CNAME, ns: [soa] },
  // NODATA and NXDOMAIN carry the SOA
  { qname: 'www.example.org.', qtype: RRType.AAAA, ns: [soa] },
  { qname: 'nothere.example.org.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, ns: [soa] },
  { qname: 'a.nothere.example.org.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, ns: [soa] },
  // CNAMEs: chased inside the zone, left to the client outside it, the target's rcode kept
  { qname: 'alias.example.org.', qtype: RRType.A, answer: ['alias.example.org. 1800 IN CNAME www.example.org.', 'www.example.org. 1800 IN A 192.0.2.10'], ns: apexNs },
  {
    qname: 'chain.example.org.', qtype: RRType.A, ns: apexNs,
    answer: ['chain.example.org. 1800 IN CNAME alias.example.org.', 'alias.example.org. 1800 IN CNAME www.example.org.', 'www.example.org. 1800 IN A 192.0.2.10'],
  },
  // owner names and CNAME/NS/MX/SOA targets are stored lower-cased, as CoreDNS does
  { qname: 'upper.example.org.', qtype: RRType.A, answer: ['upper.example.org. 1800 IN CNAME www.example.org.', 'www.example.org. 1800 IN A 192.0.2.10'], ns: apexNs },
  { qname: 'alias.example.org.', qtype: RRType.CNAME, answer: ['alias.example.org. 1800 IN CNAME www.example.org.'], ns: apexNs },
  { qname: 'alias.example.org.', qtype: RRType.AAAA, answer: ['alias.example.org. 1800 IN CNAME www.example.org.'], ns: apexNs },
  { qname: 'ext.example.org.', qtype: RRType.A, answer: ['ext.example.org. 1800 IN CNAME www.example.net.'], ns: apexNs },
  { qname: 'dangling.example.org.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, answer: ['dangling.example.org. 1800 IN CNAME nothere.example.org.'], ns: [soa] },
  { qname: 'towild.example.org.', qtype: RRType.TXT, answer: ['towild.example.org. 1800 IN CNAME x.w.example.org.', 'x.w.example.org. 1800 IN TXT "wild"'], ns: apexNs },
  { qname: 'tosub.example.org.', qtype: RRType.A, aa: true, answer: ['tosub.example.org. 1800 IN CNAME host.sub.example.org.'], ns: subNs, extra: ['ns1.sub.example.org. 1800 IN A 192.0.2.200'] },
  { qname: 'loop1.example.org.', qtype: RRType.A, answerCount: 10 },
  // additional section for SRV and MX targets, each target once
  {
    qname: '_http._tcp.example.org.', qtype: RRType.SRV, ns: apexNs, extra: ['www.example.org. 1800 IN A 192.0.2.10'],
    answer: ['_http._tcp.example.org. 1800 IN SRV 0 5 80 www.example.org.', '_http._tcp.example.org. 1800 IN SRV 1 5 80 www.example.org.'],
  },
  // wildcards: synthesized under the query name; NODATA for other types; not past an existing name
  { qname: 'foo.w.example.org.', qtype: RRType.TXT, answer: ['foo.w.example.org. 1800 IN TXT "wild"'], ns: apexNs },
  { qname: 'bar.foo.w.example.org.', qtype: RRType.TXT, answer: ['bar.foo.w.example.org. 1800 IN TXT "wild"'], ns: apexNs },
  { qname: 'foo.w.example.org.', qtype: RRType.MX, answer: ['foo.w.example.org. 1800 IN MX 10 mail.example.org.'], ns: apexNs, extra: ['mail.example.org. 1800 IN A 192.0.2.25', 'mail.example.org. 1800 IN AAAA 2001:db8::25'] },
  { qname: 'foo.w.example.org.', qtype: RRType.A, ns: [soa] },
  { qname: 'a.b.c.w.example.org.', qtype: RRType.TXT, answer: ['a.b.c.w.example.org. 1800 IN TXT "not wild"'], ns: apexNs },
  { qname: 'c.w.example.org.', qtype: RRType.TXT, ns: [soa] },
  { qname: 'x.c.w.example.org.', qtype: RRType.TXT, rcode: Rcode.NXDOMAIN, ns: [soa] },
  { qname: '*.w.example.org.', qtype: RRType.TXT, answer: ['*.w.example.org. 1800 IN TXT "wild"'], ns: apexNs },
  { qname: 'foo.cw.example.org.', qtype: RRType.A, answer: ['foo.cw.example.org. 1800 IN CNAME www.example.org.', 'www.example.org. 1800 IN A 192.0.2.10'], ns: apexNs },
  // a wildcard that exists only as an empty non-terminal matches and owns nothing
  { qname: 'y.ew.example.org.', qtype: RRType.A, ns: [soa] },
  // empty non-terminals: NODATA
  { qname: 'ent.example.org.', qtype: RRType.A, ns: [soa] },
  { qname: 'deep.ent.example.org.', qtype: RRType.A, ns: [soa] },
  { qname: 'host.deep.ent.example.org.', qtype: RRType.A, answer: ['host.deep.ent.example.org. 1800 IN A 192.0.2.150'], ns: apexNs },
  // delegation: referral with glue, not authoritative
  { qname: 'sub.example.org.', qtype: RRType.A, aa: false, ns: subNs, extra: ['ns1.sub.example.org. 1800 IN A 192.0.2.200'] },
  { qname: 'sub.example.org.', qtype: RRType.NS, aa: false, ns: subNs, extra: ['ns1.sub.example.org. 1800 IN A 192.0.2.200'] },
  { qname: 'deep.host.sub.example.org.', qtype: RRType.TXT, aa: false, ns: subNs, extra: ['ns1.sub.example.org. 1800 IN A 192.0.2.200'] },
  { qname: 'ns1.sub.example.org.', qtype: RRType.A, aa: false, ns: subNs, extra: ['ns1.sub.example.org. 1800 IN A 192.0.2.200'] },
  { qname: 'sub.example.org.', qtype: RRType.DS, ns: [soa] },
  // DNAME (RFC 6672)
  { qname: 'foo.dn.example.org.', qtype: RRType.A, answer: ['dn.example.org. 1800 IN DNAME example.net.', 'foo.dn.example.org. 1800 IN CNAME foo.example.net.'], ns: apexNs },
  { qname: 'foo.dn.example.org.', qtype: RRType.CNAME, answer: ['dn.example.org. 1800 IN DNAME example.net.', 'foo.dn.example.org. 1800 IN CNAME foo.example.net.'], ns: apexNs },
  { qname: 'dn.example.org.', qtype: RRType.DNAME, answer: ['dn.example.org. 1800 IN DNAME example.net.'], ns: apexNs },
  { qname: 'dn.example.org.', qtype: RRType.A, ns: [soa] },
];

function norm(rrs: readonly string[]): string[] {
  return rrs.map((s) => rrToString(parseRR(s))).sort();
}
function show(rrs: readonly ResourceRecord[]): string[] {
  return rrs.map((r) => rrToString(r)).sort();
}

class Capture implements ResponseWriter {
  msg: Message | undefined;
  get written(): boolean {
    return this.msg !== undefined;
  }
  get sentBytes(): number {
    return 0;
  }
  writeMsg(m: Message): void {
    this.msg = m;
  }
  writeWire(): void {
    throw new Error('file writes messages');
  }
}

const origin = { transport: 'udp' as const, remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' };
const logger = pino({ level: 'silent' });

function handlerFor(text: string, zone: string, opts: { fall?: Fallthrough } = {}): FileHandler {
  const src = new ZoneSource({ origin: zone, file: 'db.test', reloadMs: 0, byMtime: false }, logger);
  src.zone = parseZone(text, { origin: zone, file: 'db.test' }).zone;
  return new FileHandler({ sources: [src], fall: opts.fall ?? Fallthrough.none() });
}

async function ask(h: FileHandler, qname: string, qtype: number, o: { do?: boolean; next?: boolean } = {}): Promise<{ rcode: number; msg: Message | undefined }> {
  const q: Message = {
    ...emptyHeader(1), rd: true, questions: [{ name: qname, type: qtype, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
    ...(o.do ? { edns: { udpSize: 1232, version: 0, do: true, options: [] } } : {}),
  };
  const w = new Capture();
  const next = o.next ? { name: 'next', serveDNS: async () => 42 } : undefined;
  const rcode = await h.withNext(next).serveDNS(new Request(q, origin), w);
  return { rcode, msg: w.msg };
}

describe('file: lookups', () => {
  const h = handlerFor(ZONE, 'example.org.');
  for (const c of cases) {
    it(`${c.qname} ${typeToString(c.qtype)}`, async () => {
      const { msg } = await ask(h, c.qname, c.qtype);
      assert.ok(msg, 'a reply was written');
      assert.equal(msg.rcode, c.rcode ?? Rcode.NOERROR, 'rcode');
      assert.equal(msg.aa, c.aa ?? true, 'AA');
      if (c.answerCount !== undefined) {
        assert.equal(msg.answers.length, c.answerCount);
        return;
      }
      assert.deepEqual(show(msg.answers), norm(c.answer ?? []), 'answer');
      assert.deepEqual(show(msg.authorities), norm(c.ns ?? []), 'authority');
      assert.deepEqual(show(msg.additionals), norm(c.extra ?? []), 'additional');
    });
  }

  it('refuses AXFR and IXFR, and names outside its zones when nothing follows', async () => {
    assert.equal((await ask(h, 'example.org.', RRType.AXFR)).rcode, Rcode.REFUSED);
    assert.equal((await ask(h, 'example.org.', RRType.IXFR)).rcode, Rcode.REFUSED);
    const outside = await ask(h, 'example.com.', RRType.A);
    assert.equal(outside.rcode, Rcode.REFUSED);
    assert.equal(outside.msg, undefined);
    assert.equal((await ask(h, 'example.com.', RRType.A, { next: true })).rcode, 42, 'passed to the next plugin');
  });

  it('answers SERVFAIL while the zone is not loaded', async () => {
    const src = new ZoneSource({ origin: 'example.org.', file: '/nonexistent/db', reloadMs: 1000, byMtime: false }, logger);
    const empty = new FileHandler({ sources: [src], fall: Fallthrough.none() });
    assert.equal((await ask(empty, 'www.example.org.', RRType.A)).rcode, Rcode.SERVFAIL);
  });

  it('falls through on NXDOMAIN and empty non-terminals only, when configured', async () => {
    const fall = handlerFor(ZONE, 'example.org.', { fall: Fallthrough.parse([]) });
    assert.equal((await ask(fall, 'nothere.example.org.', RRType.A, { next: true })).rcode, 42);
    assert.equal((await ask(fall, 'ent.example.org.', RRType.A, { next: true })).rcode, 42);
    const nodata = await ask(fall, 'www.example.org.', RRType.AAAA, { next: true });
    assert.equal(nodata.rcode, Rcode.NOERROR);
    assert.ok(nodata.msg);
    const other = handlerFor(ZONE, 'example.org.', { fall: Fallthrough.parse(['other.org']) });
    assert.equal((await ask(other, 'nothere.example.org.', RRType.A, { next: true })).msg?.rcode, Rcode.NXDOMAIN);
  });

  it('resolves CNAME targets it has no node for through the resolver, keeping their rcode', async () => {
    const src = new ZoneSource({ origin: 'example.org.', file: 'db.test', reloadMs: 0, byMtime: false }, logger);
    src.zone = parseZone(ZONE, { origin: 'example.org.', file: 'db.test' }).zone;
    const asked: string[] = [];
    const h2 = new FileHandler({
      sources: [src],
      fall: Fallthrough.none(),
      resolve: async (name, type) => {
        asked.push(`${name} ${type}`);
        const m: Message = { ...emptyHeader(0), qr: true, questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] };
        if (name === 'www.example.net.') m.answers.push(parseRR('www.example.net. 60 IN A 198.51.100.7'));
        else m.rcode = name === 'bad.example.net.' ? Rcode.SERVFAIL : Rcode.NXDOMAIN;
        return m;
      },
    });
    const ext = await ask(h2, 'ext.example.org.', RRType.A);
    assert.deepEqual(show(ext.msg!.answers), norm(['ext.example.org. 1800 IN CNAME www.example.net.', 'www.example.net. 60 IN A 198.51.100.7']));
    assert.deepEqual(asked, ['www.example.net. 1']);
    const dangling = await ask(h2, 'dangling.example.org.', RRType.A);
    assert.equal(dangling.msg!.rcode, Rcode.NXDOMAIN);
  });
});

describe('file: DNSSEC records served as data', () => {
  // RRSIGs in RFC 3597 form: the first two RDATA bytes are the type covered (A = 0001, SOA = 0006, NSEC = 002f).
  const signed = `
$ORIGIN example.org.
$TTL 300
@    IN SOA ns1 hostmaster 1 2 3 4 5
     IN TYPE46 \\# 4 00060000
     IN NS ns1
ns1  IN A 192.0.2.53
www  IN A 192.0.2.10
     IN TYPE46 \\# 4 00010000
     IN TYPE47 \\# 2 0000
`;
  it('adds covering RRSIGs with DO only', async () => {
    const h = handlerFor(signed, 'example.org.');
    const plain = await ask(h, 'www.example.org.', RRType.A);
    assert.deepEqual(plain.msg!.answers.map((r) => r.type), [RRType.A]);
    const withDo = await ask(h, 'www.example.org.', RRType.A, { do: true });
    assert.deepEqual(withDo.msg!.answers.map((r) => r.type).sort(), [RRType.A, RRType.RRSIG]);
    const nodata = await ask(h, 'www.example.org.', RRType.AAAA, { do: true });
    assert.deepEqual(nodata.msg!.authorities.map((r) => r.type).sort((a, b) => a - b), [RRType.SOA, RRType.RRSIG, RRType.NSEC]);
    const rrsig = await ask(h, 'www.example.org.', RRType.RRSIG);
    assert.deepEqual(rrsig.msg!.answers.map((r) => r.type), [RRType.RRSIG], 'asked for directly, it is data');
  });
});

describe('file: helpers', () => {
  it('parentName strips one label, escapes kept', () => {
    assert.equal(parentName('a.b.'), 'b.');
    assert.equal(parentName('b.'), '.');
    assert.equal(parentName('.'), undefined);
    assert.equal(parentName('a\\.b.c.'), 'c.');
  });
  it('canonicalCompare orders as RFC 4034 §6.1', () => {
    const names = ['z.example.', 'a.example.', 'yljkjljk.a.example.', 'example.', '*.z.example.', 'Z.a.example.', 'zABC.a.EXAMPLE.', '\\200.z.example.', '\\001.z.example.'];
    const sorted = [...names].sort(canonicalCompare);
    assert.deepEqual(sorted, ['example.', 'a.example.', 'yljkjljk.a.example.', 'Z.a.example.', 'zABC.a.EXAMPLE.', 'z.example.', '\\001.z.example.', '*.z.example.', '\\200.z.example.']);
  });
  it('synthesizeCname substitutes the DNAME owner suffix', () => {
    const d = parseRR('dn.example.org. 60 IN DNAME example.net.');
    assert.equal(synthesizeCname('a.b.dn.example.org.', { ...d, name: 'dn.example.org.' })?.target, 'a.b.example.net.');
    assert.equal(synthesizeCname('dn.example.org.', { ...d, name: 'dn.example.org.' }), undefined);
  });
});
