/**
 * chaos, nsid, any and minimal end to end: the real CLI on loopback, asked with our raw client
 * and dig.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRClass, RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import { encodeMessage } from '../src/dns/encode.js';
import { emptyHeader, type Message, type ResourceRecord } from '../src/dns/message.js';
import { query, sendTcp, sendUdp } from './support/dns-client.js';
import { dig, hasDig } from './support/dig.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';

const NSID = 3;

function txt(rrs: ResourceRecord[]): string[][] {
  return rrs.map((r) => ('strings' in r ? r.strings : []));
}

/** A query with EDNS and the given options (the test client's buildQuery sends none). */
function ednsQuery(name: string, type: number, options: { code: number; data: Uint8Array }[], qclass: number = RRClass.IN): Buffer {
  const m: Message = {
    ...emptyHeader(Math.floor(Math.random() * 65536)),
    rd: true,
    questions: [{ name, type, class: qclass }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: { udpSize: 1232, version: 0, do: false, options },
  };
  return encodeMessage(m);
}

function nsidOf(m: Message): string | undefined {
  const o = m.edns?.options.find((x) => x.code === NSID);
  return o ? Buffer.from(o.data).toString('utf8') : undefined;
}

/** No $ORIGIN: names are relative, so one file serves min.test, full.test and fwd.test. */
const MIN_ZONE = `$TTL 60
@     IN SOA  ns1 hostmaster 1 7200 3600 1209600 300
      IN NS   ns1
      IN MX   10 mail
ns1   IN A    192.0.2.53
mail  IN A    192.0.2.25
www   IN A    192.0.2.10
sub   IN NS   ns1.sub
ns1.sub IN A  192.0.2.200
`;

describe('operator plugins', () => {
  let srv: ServerProcess;
  let port: number;
  let upstreamPort: number;
  before(async () => {
    port = await freePort();
    upstreamPort = await freePort();
    srv = await startServer(
      `. {
    chaos clusterdns-test-9.9 alice bob alice
    nsid test node 1
    cache
    hosts {
        192.0.2.1 www.example.org
        ttl 300
    }
}
who.test {
    minimal
    whoami
}
plain.test {
    whoami
}
version.server {
    chaos
}
any.test {
    any
    whoami
}
min.test {
    minimal
    file min.db
}
full.test {
    file min.db full.test
}
fwd.test:${upstreamPort} {
    file min.db fwd.test
}
fwd.test {
    minimal
    forward . 127.0.0.1:${upstreamPort}
}
`,
      { args: ['-dns.port', String(port)], files: { 'min.db': MIN_ZONE } },
    );
  });
  after(async () => {
    await srv.stop();
  });

  describe('chaos', () => {
    it('answers CH TXT version.bind with the configured version, TTL 0, no AA', async () => {
      for (const name of ['version.bind.', 'VERSION.Bind.']) {
        const r = await query(port, name, RRType.TXT, { qclass: RRClass.CH });
        assert.equal(r.rcode, Rcode.NOERROR);
        assert.equal(r.aa, false);
        assert.deepEqual(txt(r.answers), [['clusterdns-test-9.9']]);
        assert.equal(r.answers[0]!.class, RRClass.CH);
        assert.equal(r.answers[0]!.ttl, 0);
        assert.equal(r.answers[0]!.name, name, 'owner is the question name as written');
      }
    });

    it('answers authors.bind with each author once, and hostname.bind / id.server with the host name', async () => {
      const a = await query(port, 'authors.bind.', RRType.TXT, { qclass: RRClass.CH });
      assert.deepEqual(txt(a.answers).map((s) => s[0]).sort(), ['alice', 'bob']);
      for (const name of ['hostname.bind.', 'id.server.']) {
        const h = await query(port, name, RRType.TXT, { qclass: RRClass.CH, tcp: true });
        assert.deepEqual(txt(h.answers), [[os.hostname()]]);
      }
    });

    it('defaults the version to clusterdns-<version> (version.server has its own block with a bare chaos)', async () => {
      const { VERSION } = await import('../src/version.js');
      const r = await query(port, 'version.server.', RRType.TXT, { qclass: RRClass.CH });
      assert.deepEqual(txt(r.answers), [[`clusterdns-${VERSION}`]]);
      const authors = await query(port, 'authors.bind.', RRType.TXT, { qclass: RRClass.CH });
      assert.notDeepEqual(txt(authors.answers), [['The clusterdns authors']], 'the . block names its own authors');
      const other = await query(port, 'x.version.server.', RRType.TXT, { qclass: RRClass.CH });
      assert.equal(other.rcode, Rcode.SERVFAIL, 'not a chaos name and nothing after chaos');
    });

    it('passes IN-class queries and other CH names on to the next plugin', async () => {
      const inClass = await query(port, 'version.bind.', RRType.TXT);
      assert.equal(inClass.rcode, Rcode.SERVFAIL, 'hosts (no fallthrough) does not know version.bind');
      assert.equal(inClass.answers.length, 0);
      const chA = await query(port, 'version.bind.', RRType.A, { qclass: RRClass.CH });
      assert.equal(chA.answers.length, 0);
    });

    it('is readable with dig', { skip: !hasDig }, async () => {
      const out = await dig(port, ['CH', 'TXT', 'version.bind', '+short']);
      assert.equal(out.trim(), '"clusterdns-test-9.9"');
    });
  });

  describe('nsid', () => {
    it('adds the NSID option to replies when the query asks for it, and not otherwise', async () => {
      const asked = decodeMessage(await sendUdp(port, ednsQuery('www.example.org.', RRType.A, [{ code: NSID, data: new Uint8Array(0) }])));
      assert.equal(asked.rcode, Rcode.NOERROR);
      assert.equal(nsidOf(asked), 'test node 1');
      const notAsked = decodeMessage(await sendUdp(port, ednsQuery('www.example.org.', RRType.A, [])));
      assert.equal(nsidOf(notAsked), undefined);
      const noEdns = await query(port, 'www.example.org.', RRType.A);
      assert.equal(noEdns.edns, undefined);
    });

    it('adds it to pre-encoded replies (cache hits) and to replies of every plugin', async () => {
      const q = (): Buffer => ednsQuery('www.example.org.', RRType.A, [{ code: NSID, data: new Uint8Array(0) }]);
      const first = decodeMessage(await sendTcp(port, q()));
      const second = decodeMessage(await sendTcp(port, q())); // served from the cache as wire
      assert.equal(nsidOf(first), 'test node 1');
      assert.equal(nsidOf(second), 'test node 1');
      assert.deepEqual(second.answers.map((a) => ('address' in a ? a.address : '')), ['192.0.2.1']);
      const ch = decodeMessage(await sendUdp(port, ednsQuery('version.bind.', RRType.TXT, [{ code: NSID, data: new Uint8Array(0) }], RRClass.CH)));
      assert.equal(nsidOf(ch), 'test node 1');
      assert.deepEqual(txt(ch.answers), [['clusterdns-test-9.9']]);
    });

    it('is shown by dig +nsid', { skip: !hasDig }, async () => {
      const out = await dig(port, ['+nsid', 'www.example.org', 'A']);
      assert.match(out, /NSID: .*\("test node 1"\)/);
    });
  });

  describe('any', () => {
    it('answers ANY with one HINFO record as CoreDNS does (RFC 8482)', async () => {
      for (const [name, tcp] of [['Www.Any.test.', false], ['any.test.', true]] as const) {
        const r = await query(port, name, RRType.ANY, { tcp });
        assert.equal(r.rcode, Rcode.NOERROR);
        assert.equal(r.answers.length, 1);
        const h = r.answers[0]!;
        assert.equal(h.type, RRType.HINFO);
        assert.equal(h.name, name);
        assert.equal(h.ttl, 8482);
        assert.equal(h.class, RRClass.IN);
        assert.ok('cpu' in h);
        assert.equal(h.cpu, 'ANY obsoleted');
        assert.equal(h.os, 'See RFC 8482');
      }
    });

    it('lets other types through', async () => {
      const r = await query(port, 'www.any.test.', RRType.A);
      assert.equal(r.answers.length, 0);
      assert.equal(r.additionals.find((a) => a.type === RRType.A)?.name, 'www.any.test.', 'whoami answered');
    });
  });

  describe('minimal', () => {
    it('drops the additional section of a NOERROR reply (whoami) and keeps the OPT record', async () => {
      const plain = await query(port, 'x.plain.test.', RRType.A, { udpSize: 1232 });
      assert.equal(plain.additionals.length, 2, 'whoami alone: address and port records');
      const min = await query(port, 'x.who.test.', RRType.A, { udpSize: 1232 });
      assert.equal(min.rcode, Rcode.NOERROR);
      assert.equal(min.additionals.length, 0);
      assert.equal(min.authorities.length, 0);
      assert.ok(min.edns, 'OPT stays');
    });

    // The same zone with and without minimal, answered as a message (file) and as wire (forward).
    for (const [zone, how] of [['min.test.', 'file'], ['fwd.test.', 'forwarded']] as const) {
      it(`trims positive ${how} answers only: NXDOMAIN, NODATA and referrals keep their sections`, async () => {
        const full = await query(port, 'full.test.', RRType.MX);
        assert.equal(full.authorities.length, 1, 'without minimal: the apex NS in authority');
        assert.equal(full.additionals.length, 1, 'without minimal: the MX target address');
        const mx = await query(port, zone, RRType.MX, { udpSize: 1232 });
        assert.equal(mx.rcode, Rcode.NOERROR);
        assert.equal(mx.answers.length, 1);
        assert.equal(mx.authorities.length, 0);
        assert.equal(mx.additionals.length, 0);
        assert.ok(mx.edns);
        const nx = await query(port, `nothere.${zone}`, RRType.A);
        assert.equal(nx.rcode, Rcode.NXDOMAIN);
        assert.deepEqual(nx.authorities.map((r) => r.type), [RRType.SOA]);
        const nodata = await query(port, `www.${zone}`, RRType.AAAA);
        assert.equal(nodata.rcode, Rcode.NOERROR);
        assert.deepEqual(nodata.authorities.map((r) => r.type), [RRType.SOA]);
        const referral = await query(port, `host.sub.${zone}`, RRType.A, { tcp: true });
        assert.deepEqual(referral.authorities.map((r) => r.type), [RRType.NS]);
        assert.deepEqual(referral.additionals.map((r) => (r.type === RRType.A && 'address' in r ? r.address : '')), ['192.0.2.200']);
      });
    }
  });
});
