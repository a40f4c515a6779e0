/**
 * The file plugin end to end: the real CLI serving zones/example.org.db (the example zone shipped
 * with the repository), asked over UDP and TCP with our client and dig; reloads on change; broken
 * zone files at startup and on reload.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import type { Message, ResourceRecord } from '../src/dns/message.js';
import { parseRR, rrToString } from '../src/dns/presentation.js';
import { query } from './support/dns-client.js';
import { dig, hasDig } from './support/dig.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const exampleZone = fs.readFileSync(path.join(root, 'zones', 'example.org.db'), 'utf8');

const soa = 'example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300';
const apexNs = ['example.org. 3600 IN NS ns1.example.org.', 'example.org. 3600 IN NS ns2.example.org.'];

function show(rrs: readonly ResourceRecord[]): string[] {
  return rrs.map((r) => rrToString(r)).sort();
}
function norm(rrs: readonly string[]): string[] {
  return rrs.map((s) => rrToString(parseRR(s))).sort();
}

interface Case {
  qname: string;
  qtype: number;
  rcode?: number;
  aa?: boolean;
  answer?: string[];
  ns?: string[];
  extra?: string[];
}

function check(m: Message, c: Case): void {
  assert.equal(m.rcode, c.rcode ?? Rcode.NOERROR, 'rcode');
  assert.equal(m.aa, c.aa ?? true, 'AA');
  assert.deepEqual(show(m.answers), norm(c.answer ?? []), 'answer');
  assert.deepEqual(show(m.authorities), norm(c.ns ?? []), 'authority');
  assert.deepEqual(show(m.additionals), norm(c.extra ?? []), 'additional');
}

const cases: Case[] = [
  { qname: 'example.org.', qtype: RRType.SOA, answer: [soa], ns: apexNs },
  {
    qname: 'example.org.', qtype: RRType.NS, answer: apexNs,
    extra: ['ns1.example.org. 3600 IN A 192.0.2.53', 'ns1.example.org. 3600 IN AAAA 2001:db8::53', 'ns2.example.org. 3600 IN A 192.0.2.54'],
  },
  { qname: 'example.org.', qtype: RRType.A, answer: ['example.org. 3600 IN A 192.0.2.1'], ns: apexNs },
  { qname: 'example.org.', qtype: RRType.AAAA, answer: ['example.org. 3600 IN AAAA 2001:db8::1'], ns: apexNs },
  {
    qname: 'example.org.', qtype: RRType.MX, ns: apexNs,
    answer: ['example.org. 3600 IN MX 10 mail.example.org.', 'example.org. 3600 IN MX 20 mx.example.net.'],
    extra: ['mail.example.org. 3600 IN A 192.0.2.25', 'mail.example.org. 3600 IN AAAA 2001:db8::25'],
  },
  { qname: 'example.org.', qtype: RRType.TXT, answer: ['example.org. 3600 IN TXT "v=spf1 mx -all"'], ns: apexNs },
  { qname: 'example.org.', qtype: RRType.CAA, answer: ['example.org. 3600 IN CAA 0 issue "letsencrypt.org"', 'example.org. 3600 IN CAA 0 iodef "mailto:security@example.org"'], ns: apexNs },
  { qname: 'www.example.org.', qtype: RRType.A, answer: ['www.example.org. 300 IN A 192.0.2.10'], ns: apexNs },
  { qname: 'www.example.org.', qtype: RRType.AAAA, answer: ['www.example.org. 3600 IN AAAA 2001:db8::10'], ns: apexNs },
  { qname: 'txt.example.org.', qtype: RRType.TXT, answer: ['txt.example.org. 3600 IN TXT "first string" "second; string with (parentheses)"'], ns: apexNs },
  { qname: '_sip._tcp.example.org.', qtype: RRType.SRV, answer: ['_sip._tcp.example.org. 3600 IN SRV 10 60 5060 sip.example.org.'], ns: apexNs, extra: ['sip.example.org. 3600 IN A 192.0.2.60'] },
  { qname: 'ptr.example.org.', qtype: RRType.PTR, answer: ['ptr.example.org. 3600 IN PTR www.example.org.'], ns: apexNs },
  // negative answers carry the SOA
  { qname: 'nothere.example.org.', qtype: RRType.A, rcode: Rcode.NXDOMAIN, ns: [soa] },
  { qname: 'www.example.org.', qtype: RRType.MX, ns: [soa] },
  // CNAME chain inside the zone; a target outside it (no server block for example.net) is left to the client
  {
    qname: 'alias.example.org.', qtype: RRType.A, ns: apexNs,
    answer: ['alias.example.org. 3600 IN CNAME web.example.org.', 'web.example.org. 3600 IN CNAME www.example.org.', 'www.example.org. 300 IN A 192.0.2.10'],
  },
  { qname: 'external.example.org.', qtype: RRType.A, answer: ['external.example.org. 3600 IN CNAME www.example.net.'], ns: apexNs },
  // wildcard
  { qname: 'anything.apps.example.org.', qtype: RRType.A, answer: ['anything.apps.example.org. 3600 IN A 192.0.2.100'], ns: apexNs },
  { qname: 'a.b.apps.example.org.', qtype: RRType.TXT, answer: ['a.b.apps.example.org. 3600 IN TXT "wildcard"'], ns: apexNs },
  { qname: 'anything.apps.example.org.', qtype: RRType.AAAA, ns: [soa] },
  { qname: 'static.apps.example.org.', qtype: RRType.A, answer: ['static.apps.example.org. 3600 IN A 192.0.2.101'], ns: apexNs },
  { qname: 'static.apps.example.org.', qtype: RRType.TXT, ns: [soa] },
  // empty non-terminals
  { qname: 'ent.example.org.', qtype: RRType.A, ns: [soa] },
  { qname: 'deep.ent.example.org.', qtype: RRType.A, ns: [soa] },
  { qname: 'apps.example.org.', qtype: RRType.A, ns: [soa] },
  // delegation: referral with glue, no AA
  {
    qname: 'www.sub.example.org.', qtype: RRType.A, aa: false,
    ns: ['sub.example.org. 3600 IN NS ns1.sub.example.org.', 'sub.example.org. 3600 IN NS ns.example.net.'],
    extra: ['ns1.sub.example.org. 3600 IN A 192.0.2.200', 'ns1.sub.example.org. 3600 IN AAAA 2001:db8::200'],
  },
];

describe('file plugin', () => {
  let srv: ServerProcess;
  let port: number;
  before(async () => {
    port = await freePort();
    srv = await startServer(
      `example.org {
    file zones/example.org.db
}
`,
      { args: ['-dns.port', String(port)], files: { 'zones/example.org.db': exampleZone } },
    );
  });
  after(async () => {
    await srv.stop();
  });

  for (const c of cases) {
    it(`${c.qname} ${c.qtype} over UDP and TCP`, async () => {
      check(await query(port, c.qname, c.qtype), c);
      check(await query(port, c.qname, c.qtype, { tcp: true, udpSize: 1232 }), c);
    });
  }

  it('matches names case-insensitively and keeps the question as written', async () => {
    const r = await query(port, 'WWW.Example.ORG.', RRType.AAAA);
    assert.equal(r.questions[0]!.name, 'WWW.Example.ORG.');
    assert.deepEqual(r.answers.map((a) => [a.name.toLowerCase(), 'address' in a ? a.address : '']), [['www.example.org.', '2001:db8::10']]);
  });

  it('refuses zone transfers', async () => {
    const r = await query(port, 'example.org.', RRType.AXFR, { tcp: true });
    assert.equal(r.rcode, Rcode.REFUSED);
  });

  it('is read correctly by dig', { skip: !hasDig }, async () => {
    assert.equal((await dig(port, ['example.org', 'CAA', '+short'])).trim().split('\n').sort().join('\n'), '0 iodef "mailto:security@example.org"\n0 issue "letsencrypt.org"');
    const nx = await dig(port, ['nothere.example.org', 'A']);
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(nx, /flags: qr aa rd ra;/);
    assert.match(nx, /AUTHORITY: 1,/);
    const referral = await dig(port, ['host.sub.example.org', 'A', '+norecurse']);
    assert.match(referral, /status: NOERROR/);
    assert.doesNotMatch(referral, /flags:[^;]* aa/);
    assert.match(referral, /ANSWER: 0, AUTHORITY: 2, ADDITIONAL: 3/);
  });
});

describe('file plugin: reload', () => {
  const reloadZone = (serial: number, address: string, extra = ''): string =>
    `$ORIGIN reload.test.\n$TTL 60\n@ IN SOA ns1 hostmaster ${serial} 7200 3600 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.53\nhost IN A ${address}\n${extra}`;

  it('reloads a changed zone when its serial changes, and keeps the old zone on a parse error', async () => {
    const port = await freePort();
    const srv = await startServer(`reload.test {\n    file reload.db {\n        reload 100ms\n    }\n}\n`, {
      args: ['-dns.port', String(port)],
      files: { 'reload.db': reloadZone(1, '192.0.2.1') },
      env: { CLUSTERDNS_LOG_LEVEL: 'info' },
    });
    try {
      const file = path.join(srv.dir, 'reload.db');
      const host = async (): Promise<string> => (await query(port, 'host.reload.test.', RRType.A)).answers.map((a) => ('address' in a ? a.address : '')).join(',');
      /** Polls until the answer is `want` (a reload happened) or, with `stays`, checks it never changes for `ms`. */
      const expectHost = async (want: string, o: { stays?: boolean; ms?: number } = {}): Promise<void> => {
        const deadline = Date.now() + (o.ms ?? 5000);
        for (;;) {
          const got = await host();
          if (o.stays) assert.equal(got, want);
          else if (got === want) return;
          if (Date.now() > deadline) {
            if (o.stays) return;
            assert.fail(`host.reload.test is ${got}, expected ${want}`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await expectHost('192.0.2.1');

      // Changed, same serial: CoreDNS keeps the zone it has (six reload ticks).
      fs.writeFileSync(file, reloadZone(1, '192.0.2.22'));
      await expectHost('192.0.2.1', { stays: true, ms: 600 });

      // New serial: swapped in.
      fs.writeFileSync(file, reloadZone(2, '192.0.2.2'));
      await expectHost('192.0.2.2');

      // Broken, with a new serial: logged with file and line; the serial-2 zone keeps serving.
      fs.writeFileSync(file, reloadZone(3, '192.0.2.3', 'bad IN A 192.0.2.999\n'));
      await expectHost('192.0.2.2', { stays: true, ms: 600 });
      assert.equal(srv.proc.exitCode, null);

      // Fixed: swapped in.
      fs.writeFileSync(file, reloadZone(4, '192.0.2.4'));
      await expectHost('192.0.2.4');
    } finally {
      await srv.stop();
    }
    // Logs are buffered by the process and flushed when it exits.
    const logs = srv.stdout() + srv.stderr();
    assert.match(logs, /SOA serial 1 did not: not reloaded/);
    assert.match(logs, /Successfully reloaded zone .{0,2}reload\.test\..{0,2} in .*with 2 SOA serial/);
    assert.match(logs, /reload\.db:7 - plugin\/file: bad A record for bad\.reload\.test\..*keeping the zone loaded before/);
    assert.match(logs, /with 4 SOA serial/);
  });
});

describe('file plugin: a broken zone file at startup', () => {
  it('exits 1 naming the file and line', async () => {
    const port = await freePort();
    const srv = await startServer(
      `example.org {
    file db.example.org
}
`,
      {
        args: ['-dns.port', String(port)],
        files: { 'db.example.org': '$TTL 60\n@ IN SOA ns1 hostmaster 1 2 3 4 5\n\nwww IN CNAME other\nwww IN A 192.0.2.1\n' },
        noWait: true,
      },
    );
    const code = await srv.exited;
    assert.equal(code, 1);
    assert.match(srv.stdout() + srv.stderr(), /db\.example\.org:5 - plugin\/file: www\.example\.org\. has a CNAME and other data/);
  });

  it('exits 1 when the file is missing and reload is off, naming the Corefile line', async () => {
    const port = await freePort();
    const srv = await startServer(`example.org {\n    whoami\n    file missing.db {\n        reload 0\n    }\n}\n`, { args: ['-dns.port', String(port)], noWait: true });
    assert.equal(await srv.exited, 1);
    assert.match(srv.stdout() + srv.stderr(), /Corefile:3 - plugin\/file: cannot read .*missing\.db/);
  });
});
