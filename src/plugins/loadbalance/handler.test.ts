import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, replyTo, type Message, type ResourceRecord } from '../../dns/message.js';
import type { Handler, SetupContext } from '../../plugin/types.js';
import type { Request } from '../../server/request.js';
import { loadbalanceHandler, parseSubnet, preferSubnets, roundRobin } from './handler.js';
import { loadbalance } from './setup.js';
import { CapturingWriter as Capture } from '../../server/testing.js';

const N = 'web.example.';
const A = (address: string): ResourceRecord => ({ name: N, type: RRType.A, class: RRClass.IN, ttl: 30, address });
const AAAA = (address: string): ResourceRecord => ({ name: N, type: RRType.AAAA, class: RRClass.IN, ttl: 30, address });
const MX = (preference: number): ResourceRecord => ({ name: N, type: RRType.MX, class: RRClass.IN, ttl: 30, preference, exchange: `mx${preference}.example.` });
const CNAME: ResourceRecord = { name: 'alias.example.', type: RRType.CNAME, class: RRClass.IN, ttl: 30, target: N };
const TXT: ResourceRecord = { name: N, type: RRType.TXT, class: RRClass.IN, ttl: 30, strings: ['x'] };
const show = (rrs: ResourceRecord[]): string[] => rrs.map((r) => ('address' in r ? r.address : 'preference' in r ? `MX${r.preference}` : r.type === RRType.CNAME ? 'CNAME' : `T${r.type}`));

function orders(rrs: ResourceRecord[], n = 200): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(show(roundRobin(rrs, () => Math.floor(Math.random() * 65536))).join(','));
  return seen;
}


async function through(reply: Message | Buffer, random: () => number): Promise<Capture> {
  const next: Handler = {
    name: 'fake',
    async serveDNS(_req, w) {
      if (Buffer.isBuffer(reply)) w.writeWire(reply);
      else w.writeMsg(reply);
      return Rcode.NOERROR;
    },
  };
  const h = loadbalanceHandler([], random)(next);
  const cap = new Capture();
  await h.serveDNS({} as Request, cap);
  return cap;
}

function reply(answers: ResourceRecord[], rcode = 0, qtype: number = RRType.A): Message {
  const q: Message = { ...emptyHeader(7), questions: [{ name: N, type: qtype, class: RRClass.IN }], answers: [], authorities: [], additionals: [] };
  return { ...replyTo(q, rcode), answers };
}

describe('loadbalance round_robin', () => {
  it('shuffles an all-address section into every order over many replies, never changing its records', () => {
    const rrs = [A('10.0.0.1'), A('10.0.0.2'), A('10.0.0.3')];
    const seen = orders(rrs);
    assert.equal(seen.size, 6, `all 3! orders appear: ${[...seen].join(' | ')}`);
    for (const o of seen) assert.deepEqual(o.split(',').sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    assert.deepEqual(show(rrs), ['10.0.0.1', '10.0.0.2', '10.0.0.3'], 'input not mutated');
    assert.equal(orders([A('10.0.0.1'), A('10.0.0.2')]).size, 2);
  });

  it('keeps CNAMEs first, then other records, then shuffled addresses, then shuffled MX (CoreDNS order)', () => {
    const rrs = [MX(10), A('10.0.0.1'), TXT, AAAA('fd00::1'), CNAME, MX(20), A('10.0.0.2')];
    const seen = orders(rrs);
    assert.ok(seen.size > 1);
    for (const o of seen) {
      const parts = o.split(',');
      assert.deepEqual(parts.slice(0, 2), ['CNAME', 'T16']);
      assert.deepEqual(parts.slice(2, 5).sort(), ['10.0.0.1', '10.0.0.2', 'fd00::1']);
      assert.deepEqual(parts.slice(5).sort(), ['MX10', 'MX20']);
    }
  });

  it('uses CoreDNS\'s exact swap sequence', () => {
    // dns.Id() always 1: j=0 → p=0+1%3=1, j=1 → p=1+1%2=2, j=2 → p=2: [b, c, a]
    assert.deepEqual(show(roundRobin([A('a'), A('b'), A('c')], () => 1)), ['b', 'c', 'a']);
    // two records swap on an even id
    assert.deepEqual(show(roundRobin([A('a'), A('b')], () => 2)), ['b', 'a']);
    assert.deepEqual(show(roundRobin([A('a'), A('b')], () => 3)), ['a', 'b']);
  });

  it('shuffles replies written as Message and as wire, in every section; leaves errors and transfers alone', async () => {
    const always1 = (): number => 1;
    const m = reply([A('10.0.0.1'), A('10.0.0.2'), A('10.0.0.3')]);
    m.additionals = [A('10.0.1.1'), A('10.0.1.2'), A('10.0.1.3')];
    const viaMsg = await through(m, always1);
    assert.deepEqual(show(viaMsg.msg!.answers), ['10.0.0.2', '10.0.0.3', '10.0.0.1']);
    assert.deepEqual(show(viaMsg.msg!.additionals), ['10.0.1.2', '10.0.1.3', '10.0.1.1']);
    const viaWire = await through(encodeMessage(m), always1);
    // Shuffled as bytes (shuffleWire: one owner, all A) or decoded and written as a Message: the same order.
    const shuffled = viaWire.wire ? decodeMessage(viaWire.wire) : viaWire.msg!;
    assert.deepEqual(show(shuffled.answers), ['10.0.0.2', '10.0.0.3', '10.0.0.1']);
    assert.deepEqual(show(shuffled.additionals), ['10.0.1.2', '10.0.1.3', '10.0.1.1']);
    const single = encodeMessage(reply([A('10.0.0.1')]));
    assert.equal((await through(single, always1)).wire, single, 'nothing to shuffle: wire passed through untouched');
    const nx = reply([A('10.0.0.1'), A('10.0.0.2'), A('10.0.0.3')], Rcode.NXDOMAIN);
    assert.deepEqual(show((await through(nx, always1)).msg!.answers), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    const axfr = reply([A('10.0.0.1'), A('10.0.0.2'), A('10.0.0.3')], 0, RRType.AXFR);
    assert.deepEqual(show((await through(axfr, always1)).msg!.answers), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('prefer moves addresses of the listed subnets first, in subnet order', () => {
    const subnets = [parseSubnet('192.168.1.0/24')!, parseSubnet('10.9.20.0/24')!, parseSubnet('fd00::/64')!];
    const rrs = [MX(1), A('8.8.8.8'), A('10.9.20.5'), CNAME, AAAA('fd00::5'), A('192.168.1.7')];
    assert.deepEqual(show(preferSubnets(rrs, subnets)), ['CNAME', '192.168.1.7', '10.9.20.5', 'fd00::5', '8.8.8.8', 'MX1']);
    assert.equal(parseSubnet('10.0.0.0/33'), undefined);
    assert.equal(parseSubnet('nonsense/8'), undefined);
  });
});

describe('loadbalance setup', () => {
  const run = (body: string): unknown => {
    const c = parseCorefile(`. {\n ${body}\n}\n`, 'Corefile');
    const ctx = { logger: pino({ level: 'silent' }) } as unknown as SetupContext;
    return loadbalance.setup(c.blocks[0]!.directives, ctx);
  };
  it('accepts the default, round_robin and prefer', () => {
    assert.ok(run('loadbalance'));
    assert.ok(run('loadbalance round_robin'));
    assert.ok(run('loadbalance round_robin {\n prefer 10.0.0.0/8 fd00::/8\n }'));
  });
  const bad: Array<[string, RegExp]> = [
    ['loadbalance weighted ./weights', /policy 'weighted' is not supported by clusterdns/],
    ['loadbalance random', /unknown policy: random/],
    ['loadbalance round_robin extra', /unknown property for round_robin/],
    ['loadbalance {\n prefer 10.0.0.0/99\n }', /invalid CIDR "10.0.0.0\/99"/],
    ['loadbalance {\n reload 10s\n }', /unknown property 'reload'/],
  ];
  for (const [body, re] of bad) {
    it(`rejects: ${body.replace(/\n/g, ' ')}`, () => {
      assert.throws(() => run(body), (err: Error) => re.test(err.message) && /plugin\/loadbalance: /.test(err.message));
    });
  }
});
