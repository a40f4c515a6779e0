/**
 * rewrite and acl end to end: the real CLI on loopback, asked by our raw client over UDP and TCP and
 * by dig. Rewritten queries must come back with the asked question and names (from hosts, which
 * writes Messages, and through forward, which writes the upstream's wire bytes); acl must block,
 * filter, drop and allow queries from 127.0.0.1 by CIDRs that match it and CIDRs that do not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import type { Message } from '../src/dns/message.js';
import { buildQuery, query, sendTcp, sendUdp } from './support/dns-client.js';
import { dig, hasDig } from './support/dig.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { rr, UpstreamServer } from './support/upstream-server.js';

const hostsFile = [
  '192.0.2.10 bar.example.org',
  '192.0.2.20 www.real.example.org',
  '192.0.2.30 v2.api.real.example.org',
  '192.0.2.40 hidden.guard.test',
].join('\n');

function addresses(m: Message): string[] {
  return m.answers.map((r) => ('address' in r ? r.address : '?'));
}
function owners(m: Message): string[] {
  return m.answers.map((r) => r.name);
}

describe('rewrite and acl', () => {
  let srv: ServerProcess;
  let upstream: UpstreamServer;
  let port: number;
  let metricsPort: number;

  before(async () => {
    port = await freePort();
    metricsPort = await freePort();
    upstream = await UpstreamServer.start({ records: [rr.a('www.upstream.example.', '198.51.100.7', 120)] });
    srv = await startServer(
      `example.org {
    rewrite name foo.example.org bar.example.org
    rewrite name suffix .alias.example.org. .real.example.org. answer auto
    rewrite name regex ^([a-z]+)-(v[0-9]+)\\.svc\\.example\\.org\\.$ {2}.{1}.real.example.org answer auto
    rewrite name regex ^raw-(.*)\\.example\\.org\\.$ {1}.real.example.org
    rewrite ttl bar.example.org 42
    hosts hosts.txt {
        ttl 3600
    }
}
corp.test {
    rewrite name suffix .corp.test. .upstream.example. answer auto
    forward . 127.0.0.1:${upstream.port}
}
guard.test {
    rewrite name exact secret.guard.test hidden.guard.test
    acl hidden.guard.test {
        block
    }
    hosts hosts.txt
}
block.test {
    prometheus 127.0.0.1:${metricsPort}
    acl {
        block net 127.0.0.0/8
    }
    whoami
}
filter.test {
    acl {
        filter type A net 127.0.0.1/32
    }
    whoami
}
drop.test {
    acl {
        drop net 10.0.0.0/8 127.0.0.1
    }
    whoami
}
allow.test {
    acl {
        block net 10.0.0.0/8 192.168.0.0/16 2001:db8::/32
        allow net 127.0.0.1
        block
    }
    whoami
}
`,
      { args: ['-dns.port', String(port)], files: { 'hosts.txt': `${hostsFile}\n` } },
    );
  });
  after(async () => {
    await srv?.stop();
    await upstream?.stop();
  });

  describe('rewrite', () => {
    it('answers foo.example.org from the hosts entry of bar.example.org, showing the asked name (UDP and TCP)', async () => {
      for (const tcp of [false, true]) {
        const r = await query(port, 'Foo.Example.org.', RRType.A, { tcp });
        assert.equal(r.rcode, Rcode.NOERROR);
        assert.equal(r.questions[0]!.name, 'Foo.Example.org.');
        // (the encoder may compress the owner into a pointer to the question, case and all)
        assert.deepEqual(owners(r).map((o) => o.toLowerCase()), ['foo.example.org.']);
        assert.deepEqual(addresses(r), ['192.0.2.10']);
      }
    });

    it('applies a ttl rule to the names it matches; a matching stop rule before it ends the list', async () => {
      // foo → bar stops the list; a direct query for bar reaches the ttl rule.
      const viaFoo = await query(port, 'foo.example.org.', RRType.A);
      assert.equal(viaFoo.answers[0]!.ttl, 3600);
      const direct = await query(port, 'bar.example.org.', RRType.A);
      assert.equal(direct.answers[0]!.ttl, 42);
    });

    it('maps a suffix back with answer auto', async () => {
      const r = await query(port, 'www.alias.example.org.', RRType.A);
      assert.deepEqual(owners(r), ['www.alias.example.org.']);
      assert.deepEqual(addresses(r), ['192.0.2.20']);
    });

    it('rewrites with regex groups and maps the answer back with answer auto', async () => {
      const r = await query(port, 'api-v2.svc.example.org.', RRType.A, { tcp: true });
      assert.equal(r.questions[0]!.name, 'api-v2.svc.example.org.');
      assert.deepEqual(owners(r), ['api-v2.svc.example.org.']);
      assert.deepEqual(addresses(r), ['192.0.2.30']);
    });

    it('without answer rules, restores only the question (CoreDNS)', async () => {
      const r = await query(port, 'raw-www.example.org.', RRType.A);
      assert.equal(r.questions[0]!.name, 'raw-www.example.org.');
      assert.deepEqual(owners(r), ['www.real.example.org.']);
    });

    it('reverts the wire reply forward writes, and the upstream is asked the rewritten name', async () => {
      const r = await query(port, 'www.corp.test.', RRType.A, { udpSize: 1232 });
      assert.equal(r.rcode, Rcode.NOERROR);
      assert.equal(r.questions[0]!.name, 'www.corp.test.');
      assert.deepEqual(owners(r), ['www.corp.test.']);
      assert.deepEqual(addresses(r), ['198.51.100.7']);
      assert.ok(upstream.queries.some((q) => q.name.toLowerCase() === 'www.upstream.example.'), JSON.stringify(upstream.queries));
    });

    it('is accepted by dig without a question mismatch', { skip: !hasDig }, async () => {
      const out = await dig(port, ['foo.example.org', 'A']);
      assert.match(out, /status: NOERROR/);
      assert.match(out, /^foo\.example\.org\.\s+3600\s+IN\s+A\s+192\.0\.2\.10$/m);
      assert.doesNotMatch(out, /mismatch|bar\.example\.org/);
      const suffix = await dig(port, ['+tcp', 'www.alias.example.org', 'A']);
      assert.match(suffix, /^www\.alias\.example\.org\.\s+3600\s+IN\s+A\s+192\.0\.2\.20$/m);
    });
  });

  describe('acl', () => {
    it('block: REFUSED for 127.0.0.1 in 127.0.0.0/8, with EDE Blocked when the query has EDNS', async () => {
      const r = await query(port, 'x.block.test.', RRType.A, { udpSize: 1232 });
      assert.equal(r.rcode, Rcode.REFUSED);
      assert.equal(r.answers.length + r.additionals.length, 0);
      assert.deepEqual(r.edns?.options.map((o) => [o.code, ...o.data]), [[15, 0, 15]]);
      const plain = await query(port, 'x.block.test.', RRType.AAAA, { tcp: true });
      assert.equal(plain.rcode, Rcode.REFUSED);
      assert.equal(plain.edns, undefined);
    });

    it('filter: NOERROR without records for A from 127.0.0.1, other types pass', async () => {
      const r = await query(port, 'x.filter.test.', RRType.A, { udpSize: 1232 });
      assert.equal(r.rcode, Rcode.NOERROR);
      assert.equal(r.answers.length + r.authorities.length + r.additionals.length, 0);
      assert.deepEqual(r.edns?.options.map((o) => [o.code, ...o.data]), [[15, 0, 17]]);
      const aaaa = await query(port, 'x.filter.test.', RRType.AAAA);
      assert.equal(aaaa.rcode, Rcode.NOERROR);
      assert.ok(aaaa.additionals.length > 0, 'whoami answered');
    });

    it('drop: no reply at all over UDP or TCP, and the server keeps serving', async () => {
      const udp = sendUdp(port, buildQuery('x.drop.test.', RRType.A), { timeoutMs: 1000 });
      const tcp = sendTcp(port, buildQuery('x.drop.test.', RRType.A), { timeoutMs: 1000 });
      await assert.rejects(udp, /udp query timed out/);
      await assert.rejects(tcp, /tcp: got 0\/1 replies/);
      const ok = await query(port, 'x.allow.test.', RRType.A);
      assert.equal(ok.rcode, Rcode.NOERROR);
    });

    it('allow: CIDRs that do not match 127.0.0.1 let the query through, an allow before a catch-all block too', async () => {
      const r = await query(port, 'x.allow.test.', RRType.A, { tcp: true });
      assert.equal(r.rcode, Rcode.NOERROR);
      assert.ok(r.additionals.some((a) => a.type === RRType.A || a.type === RRType.AAAA), 'whoami answered');
    });

    it('sees the rewritten name, and its REFUSED reaches the client with the asked question', async () => {
      const r = await query(port, 'secret.guard.test.', RRType.A);
      assert.equal(r.rcode, Rcode.REFUSED);
      assert.equal(r.questions[0]!.name, 'secret.guard.test.');
    });

    it('shows in dig as REFUSED with EDE Blocked', { skip: !hasDig }, async () => {
      const out = await dig(port, ['x.block.test', 'A']);
      assert.match(out, /status: REFUSED/);
      assert.match(out, /EDE: 15 \(Blocked\)/);
    });

    it('counts blocked, filtered, dropped and allowed queries with CoreDNS\'s metric names', async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const value = (metric: string, labels: string): number => {
        const line = text.split('\n').find((l) => l.startsWith(`${metric}{${labels}}`));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const server = `server="dns://:${port}"`;
      assert.ok(value('coredns_acl_blocked_requests_total', `${server},zone="block.test.",view=""`) >= 2, text);
      assert.ok(value('coredns_acl_blocked_requests_total', `${server},zone="hidden.guard.test.",view=""`) >= 1);
      assert.ok(value('coredns_acl_filtered_requests_total', `${server},zone="filter.test.",view=""`) >= 1);
      assert.ok(value('coredns_acl_dropped_requests_total', `${server},zone="drop.test.",view=""`) >= 2);
      assert.ok(value('coredns_acl_allowed_requests_total', `${server},view=""`) >= 3);
    });
  });
});
