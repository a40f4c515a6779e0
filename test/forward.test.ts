/**
 * forward end to end: the real CLI forwarding to real upstream servers on loopback
 * (test/support/upstream-server.ts), asked by our raw client and dig.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import type { Message } from '../src/dns/message.js';
import { dig, hasDig } from './support/dig.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { rr, SPOOFED_ADDRESS, UpstreamServer } from './support/upstream-server.js';

const addresses = (m: Message): string[] => m.answers.map((a) => ('address' in a ? a.address : '')).sort();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of one sample (`name{labels}`, labels in the order exported), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const manyA = Array.from({ length: 40 }, (_, i) => rr.a('big.tcp.test.', `10.9.0.${i + 1}`));

describe('forward', () => {
  type Name = 'main' | 'spoofId' | 'spoofQ' | 'upper' | 'tc' | 'tcp' | 'slow' | 'drop1' | 'drop2' | 'nx' | 'refuse';
  const ups = {} as Record<Name, UpstreamServer>;
  let srv: ServerProcess;
  let port: number;
  let metricsPort: number;
  let resolvHost: string;
  let resolvUp: UpstreamServer | undefined;

  before(async () => {
    ups.main = await UpstreamServer.start({
      records: [
        rr.a('www.example.org.', '192.0.2.1'), rr.aaaa('www.example.org.', '2001:db8::1'),
        rr.mx('example.org.', 10, 'mail.example.org.'), rr.txt('example.org.', ['v=spf1 -all']),
        rr.a('skip.test.', '192.0.2.99'),
        rr.a('www.next.test.', '192.0.2.2'), rr.a('www.failover.test.', '192.0.2.3'),
      ],
    });
    const same = (zone: string): ReturnType<typeof rr.a>[] => [rr.a(`www.${zone}`, '192.0.2.10')];
    ups.spoofId = await UpstreamServer.start({ records: same('spoof-id.test.') });
    ups.spoofId.fault = { spoofFirst: 'id' };
    ups.spoofQ = await UpstreamServer.start({ records: same('spoof-q.test.') });
    ups.spoofQ.fault = { spoofFirst: 'question' };
    ups.upper = await UpstreamServer.start({ records: same('case.test.') });
    ups.upper.fault = { upperCaseQuestion: true };
    ups.tc = await UpstreamServer.start({ records: [rr.a('www.tc.test.', '192.0.2.20'), rr.a('www.preferudp.test.', '192.0.2.21')] });
    ups.tc.fault = { truncateUdp: true };
    ups.tcp = await UpstreamServer.start({ records: [rr.a('www.tcp.test.', '192.0.2.30'), ...manyA] });
    ups.slow = await UpstreamServer.start({ records: same('slow.test.') });
    ups.slow.fault = { delayMs: 400 };
    ups.drop1 = await UpstreamServer.start();
    ups.drop1.fault = { drop: true };
    ups.drop2 = await UpstreamServer.start();
    ups.drop2.fault = { drop: true };
    ups.nx = await UpstreamServer.start();
    ups.nx.fault = { rcode: Rcode.NXDOMAIN };
    ups.refuse = await UpstreamServer.start();
    ups.refuse.fault = { rcode: Rcode.REFUSED };

    // resolv.conf upstreams always use port 53: bind one there when we may (root), else check that
    // the forwarder aims at it all the same (SERVFAIL, and the `to` label in the metrics).
    resolvHost = `127.0.0.${2 + Math.floor(Math.random() * 200)}`;
    resolvUp = await UpstreamServer.start({ host: resolvHost, port: 53, records: [rr.a('www.resolv.test.', '192.0.2.53')] }).catch(() => undefined);

    port = await freePort();
    metricsPort = await freePort();
    srv = await startServer(
      `.:${port} {
    prometheus 127.0.0.1:${metricsPort}
    forward . ${ups.main.addr} {
        except skip.test
    }
    whoami
}
resolv.test:${port} {
    forward . conf/resolv.conf
}
spoof-id.test:${port} {
    forward . ${ups.spoofId.addr}
}
spoof-q.test:${port} {
    forward . dns://${ups.spoofQ.addr}
}
case.test:${port} {
    forward . ${ups.upper.addr}
}
tc.test:${port} {
    forward . ${ups.tc.addr}
}
preferudp.test:${port} {
    forward . ${ups.tc.addr} {
        prefer_udp
    }
}
tcp.test:${port} {
    forward . ${ups.tcp.addr} {
        force_tcp
    }
}
slow.test:${port} {
    forward . ${ups.slow.addr} {
        max_concurrent 2
    }
}
dead.test:${port} {
    forward . ${ups.drop1.addr} {
        read_timeout 300ms
    }
}
dead2.test:${port} {
    forward . ${ups.drop1.addr} ${ups.drop2.addr}
}
next.test:${port} {
    forward . ${ups.nx.addr} {
        next NXDOMAIN
    }
    forward . ${ups.main.addr}
}
failover.test:${port} {
    forward . ${ups.refuse.addr} ${ups.main.addr} {
        policy sequential
        failover REFUSED
    }
}
`,
      { files: { 'conf/resolv.conf': `# generated\nsearch example.org\nnameserver ${resolvHost} ; the only one\noptions ndots:5\n` } },
    );
  });

  after(async () => {
    await srv?.stop();
    for (const u of Object.values(ups)) await u?.stop();
    await resolvUp?.stop();
  });

  it('forwards A, AAAA, MX and TXT over UDP and TCP with the client ID and question case', async () => {
    const a = await query(port, 'WwW.Example.ORG.', RRType.A, { id: 4242 });
    assert.equal(a.rcode, Rcode.NOERROR);
    assert.equal(a.id, 4242);
    assert.equal(a.questions[0]!.name, 'WwW.Example.ORG.');
    assert.deepEqual(addresses(a), ['192.0.2.1']);
    const aaaa = await query(port, 'www.example.org.', RRType.AAAA, { tcp: true, id: 4243 });
    assert.equal(aaaa.id, 4243);
    assert.deepEqual(addresses(aaaa), ['2001:db8::1']);
    const mx = await query(port, 'example.org.', RRType.MX, { udpSize: 1232 });
    assert.deepEqual(mx.answers.map((r) => ('exchange' in r ? `${r.preference} ${r.exchange}` : '')), ['10 mail.example.org.']);
    assert.ok(mx.edns, 'an EDNS query gets an EDNS reply');
    const txt = await query(port, 'example.org.', RRType.TXT, { tcp: true });
    assert.deepEqual(txt.answers.map((r) => ('strings' in r ? r.strings.join('') : '')), ['v=spf1 -all']);
    const nx = await query(port, 'nothere.example.org.', RRType.A);
    assert.equal(nx.rcode, Rcode.NXDOMAIN);

    const seen = ups.main.seen('www.example.org.');
    assert.deepEqual(seen.map((q) => q.transport), ['udp', 'tcp'], 'the upstream is asked over the client transport');
    assert.ok(seen.some((q) => q.id !== 4242 && q.id !== 4243), 'the upstream sees our own query IDs');
    assert.equal(ups.main.seen('example.org.', RRType.MX)[0]!.edns, true, 'the query is relayed with its OPT');
  });

  it('is answered through dig', { skip: !hasDig }, async () => {
    const out = await dig(port, ['www.example.org', 'A', '+short']);
    assert.equal(out.trim(), '192.0.2.1');
  });

  it('does not forward names under `except`: the next plugin answers', async () => {
    const before = ups.main.count('skip.test.');
    const r = await query(port, 'skip.test.', RRType.A);
    assert.equal(r.rcode, Rcode.NOERROR);
    assert.equal(r.answers.length, 0);
    assert.ok(r.additionals.some((x) => x.type === RRType.A && 'address' in x && x.address === '127.0.0.1'), 'whoami answered');
    assert.equal(ups.main.count('skip.test.'), before);
  });

  it('reads upstreams from a resolv.conf (relative to the Corefile, port 53)', async () => {
    const r = await query(port, 'www.resolv.test.', RRType.A, { timeoutMs: 8000 });
    if (resolvUp) {
      assert.deepEqual(addresses(r), ['192.0.2.53']);
      assert.equal(resolvUp.count('www.resolv.test.'), 1);
    } else {
      assert.equal(r.rcode, Rcode.SERVFAIL);
    }
    const m = await scrape(metricsPort);
    assert.ok((sample(m, `coredns_forward_requests_total{to="${resolvHost}:53"}`) ?? 0) >= 1, `forwarded to ${resolvHost}:53`);
  });

  it('ignores a reply with the wrong ID or the wrong question and takes the right one', async () => {
    for (const zone of ['spoof-id.test.', 'spoof-q.test.']) {
      const r = await query(port, `www.${zone}`, RRType.A);
      assert.equal(r.rcode, Rcode.NOERROR, zone);
      assert.deepEqual(addresses(r), ['192.0.2.10'], `${zone}: not ${SPOOFED_ADDRESS}`);
    }
  });

  it('gives the client its own question case even when the upstream changes it', async () => {
    const r = await query(port, 'wWw.CaSe.test.', RRType.A);
    assert.equal(r.questions[0]!.name, 'wWw.CaSe.test.');
    assert.deepEqual(addresses(r), ['192.0.2.10']);
    assert.equal(ups.upper.count('www.case.test.'), 1);
  });

  it('relays a truncated UDP reply; the client retry over TCP goes over TCP', async () => {
    const udp = await query(port, 'www.tc.test.', RRType.A);
    assert.equal(udp.tc, true);
    assert.equal(udp.answers.length, 0);
    const tcp = await query(port, 'www.tc.test.', RRType.A, { tcp: true });
    assert.equal(tcp.tc, false);
    assert.deepEqual(addresses(tcp), ['192.0.2.20']);
    assert.deepEqual(ups.tc.seen('www.tc.test.').map((q) => q.transport), ['udp', 'tcp']);
  });

  it('prefer_udp: asks over UDP even for a TCP client, and again over TCP when truncated', async () => {
    const r = await query(port, 'www.preferudp.test.', RRType.A, { tcp: true });
    assert.deepEqual(addresses(r), ['192.0.2.21']);
    const u = await query(port, 'www.preferudp.test.', RRType.A);
    assert.equal(u.tc, false);
    assert.deepEqual(addresses(u), ['192.0.2.21']);
    assert.deepEqual(ups.tc.seen('www.preferudp.test.').map((q) => q.transport), ['udp', 'tcp', 'udp', 'tcp']);
  });

  it('force_tcp: asks over TCP, and the reply is still fitted to a UDP client', async () => {
    const r = await query(port, 'www.tcp.test.', RRType.A);
    assert.deepEqual(addresses(r), ['192.0.2.30']);
    const big = await query(port, 'big.tcp.test.', RRType.A);
    assert.equal(big.tc, true, 'a 40-record reply does not fit 512 bytes');
    assert.ok(big.size <= 512);
    const bigTcp = await query(port, 'big.tcp.test.', RRType.A, { tcp: true });
    assert.equal(bigTcp.answers.length, 40);
    assert.ok(ups.tcp.queries.every((q) => q.transport === 'tcp'));
  });

  it('max_concurrent: REFUSED past the limit, and counted', async () => {
    const replies = await Promise.all(Array.from({ length: 5 }, (_, i) => query(port, 'www.slow.test.', RRType.A, { id: 100 + i })));
    const rcodes = replies.map((r) => r.rcode).sort();
    assert.deepEqual(rcodes, [Rcode.NOERROR, Rcode.NOERROR, Rcode.REFUSED, Rcode.REFUSED, Rcode.REFUSED]);
    assert.equal(sample(await scrape(metricsPort), 'coredns_forward_max_concurrent_rejects_total'), 3);
  });

  it('next RCODE hands the query to the next forward; failover RCODE tries the next upstream', async () => {
    const n = await query(port, 'www.next.test.', RRType.A);
    assert.deepEqual(addresses(n), ['192.0.2.2']);
    assert.equal(ups.nx.count('www.next.test.'), 1);
    const f = await query(port, 'www.failover.test.', RRType.A);
    assert.deepEqual(addresses(f), ['192.0.2.3']);
    assert.equal(ups.refuse.count('www.failover.test.'), 1);
  });

  it('SERVFAIL when no upstream answers: two tries of read_timeout for one upstream', async () => {
    const t0 = Date.now();
    const r = await query(port, 'x.dead.test.', RRType.A);
    const ms = Date.now() - t0;
    assert.equal(r.rcode, Rcode.SERVFAIL);
    assert.ok(ms >= 550 && ms < 2000, `answered after ${ms}ms`);
    assert.equal(ups.drop1.count('x.dead.test.'), 2);
  });

  it('SERVFAIL after the 5s query deadline with default timeouts', async () => {
    const t0 = Date.now();
    const r = await query(port, 'x.dead2.test.', RRType.A, { timeoutMs: 9000 });
    const ms = Date.now() - t0;
    assert.equal(r.rcode, Rcode.SERVFAIL);
    assert.ok(ms >= 4800 && ms < 6500, `answered after ${ms}ms`);
    // 2s, 2s, then what is left of the 5s on the third try; on a loaded machine a timer firing late
    // can leave room for one more short try before the deadline, never more.
    const tries = ups.drop1.count('x.dead2.test.') + ups.drop2.count('x.dead2.test.');
    assert.ok(tries >= 3 && tries <= 4, `${tries} tries`);
  });

  it('exports the forward metrics with CoreDNS names and labels', async () => {
    const m = await scrape(metricsPort);
    const to = ups.main.addr;
    assert.ok((sample(m, `coredns_forward_requests_total{to="${to}"}`) ?? 0) >= 6);
    assert.ok((sample(m, `coredns_forward_responses_total{rcode="NOERROR",to="${to}"}`) ?? 0) >= 5);
    assert.ok((sample(m, `coredns_forward_responses_total{rcode="NXDOMAIN",to="${to}"}`) ?? 0) >= 1);
    assert.ok((sample(m, `coredns_forward_request_duration_seconds_count{to="${to}",rcode="NOERROR"}`) ?? 0) >= 5);
    assert.ok((sample(m, `coredns_proxy_request_duration_seconds_count{proxy_name="forward",to="${to}",rcode="NOERROR"}`) ?? 0) >= 5);
    assert.ok((sample(m, `coredns_proxy_conn_cache_misses_total{proxy_name="forward",to="${to}",proto="udp"}`) ?? 0) >= 1);
    // The dropping upstreams failed their health probes.
    assert.ok((sample(m, `coredns_forward_healthcheck_failures_total{to="${ups.drop1.addr}"}`) ?? 0) >= 1);
    assert.ok((sample(m, `coredns_proxy_healthcheck_failures_total{proxy_name="forward",to="${ups.drop1.addr}"}`) ?? 0) >= 1);
    assert.equal(sample(m, 'coredns_forward_healthcheck_broken_total'), 0);
    assert.match(m, /^# TYPE coredns_forward_request_duration_seconds histogram$/m);
    assert.match(m, /^coredns_forward_request_duration_seconds_bucket\{le="0.00025",to="[^"]+",rcode="NOERROR"\} \d+$/m);
  });
});

describe('forward health checks', () => {
  let a: UpstreamServer;
  let b: UpstreamServer;
  let srv: ServerProcess;
  let port: number;
  let metricsPort: number;

  before(async () => {
    a = await UpstreamServer.start({ records: [rr.a('www.example.org.', '192.0.2.1')] });
    b = await UpstreamServer.start({ records: [rr.a('www.example.org.', '192.0.2.2')] });
    port = await freePort();
    metricsPort = await freePort();
    srv = await startServer(`.:${port} {
    prometheus 127.0.0.1:${metricsPort}
    forward . ${a.addr} ${b.addr} {
        policy sequential
        health_check 100ms
    }
}
`);
  });
  after(async () => {
    await srv?.stop();
    await a?.stop();
    await b?.stop();
  });

  const metric = async (series: string): Promise<number> => sample(await scrape(metricsPort), series) ?? 0;

  it('skips a failed upstream, marks it down after max_fails probes, and takes it back when a probe answers', async () => {
    assert.deepEqual(addresses(await query(port, 'www.example.org.', RRType.A)), ['192.0.2.1'], 'sequential: the first upstream');
    await a.stop();

    // The first failure moves on to the second upstream and starts probing the first.
    assert.deepEqual(addresses(await query(port, 'www.example.org.', RRType.A)), ['192.0.2.2']);
    // Down once more probes failed than max_fails (2).
    await until('a down', async () => (await metric(`coredns_forward_healthcheck_failures_total{to="${a.addr}"}`)) >= 3);
    const triedA = await metric(`coredns_forward_requests_total{to="${a.addr}"}`);
    assert.deepEqual(addresses(await query(port, 'www.example.org.', RRType.A)), ['192.0.2.2']);
    assert.equal(await metric(`coredns_forward_requests_total{to="${a.addr}"}`), triedA, 'a down upstream is not tried');

    // Both down: CoreDNS assumes health checking is broken and tries one at random.
    await b.stop();
    assert.equal((await query(port, 'www.example.org.', RRType.A)).rcode, Rcode.SERVFAIL);
    await until('b down', async () => (await metric(`coredns_forward_healthcheck_failures_total{to="${b.addr}"}`)) >= 3);
    assert.equal((await query(port, 'www.example.org.', RRType.A)).rcode, Rcode.SERVFAIL);
    assert.ok((await metric('coredns_forward_healthcheck_broken_total')) >= 1);

    // The first comes back: its next probe answers and it serves again.
    await a.restart();
    await until('a probed', async () => a.count('.', RRType.NS) >= 1);
    const probe = a.seen('.', RRType.NS)[0]!;
    assert.equal(probe.rd, true, 'probes are `. IN NS` with RD');
    const r = await until('a answers again', async () => {
      const x = await query(port, 'www.example.org.', RRType.A);
      return addresses(x)[0] === '192.0.2.1' ? x : undefined;
    });
    assert.equal(r.rcode, Rcode.NOERROR);
  });
});
