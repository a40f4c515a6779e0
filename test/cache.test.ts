/**
 * cache end to end: the real CLI, hosts and whoami behind the cache, observed through answers
 * (a changed hosts file stays invisible while the entry lives), TTLs and /metrics.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import type { Message } from '../src/dns/message.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const addrs = (m: Message): string[] => m.answers.map((r) => ('address' in r ? r.address : '?'));

describe('cache', () => {
  let srv: ServerProcess;
  let port: number;
  let metricsPort: number;
  let hostsFile: string;

  const hosts = (v: number): string =>
    [`192.0.2.${v} www.example.org`, `192.0.2.${v} ttl.example.org`, `192.0.2.${v} a.nocache.example.org`, `192.0.2.${v} mixed.example.org`].join('\n') + '\n';

  const zone = (serial: number, extra: string): string => `$ORIGIN example.net.
@   30 IN SOA ns.example.net. hostmaster.example.net. ${serial} 7200 1800 86400 20
@   30 IN NS  ns.example.net.
ns  30 IN A   192.0.2.53
www 30 IN A   192.0.2.80
${extra}`;

  async function metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    return res.text();
  }
  function metric(text: string, name: string, labels: Record<string, string>): number {
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      const [, body = '', value = ''] = /^[^{]+\{([^}]*)\} (\S+)$/.exec(line) ?? [];
      const got = Object.fromEntries([...body.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(value);
    }
    return 0;
  }

  before(async () => {
    port = await freePort();
    metricsPort = await freePort();
    srv = await startServer(
      `example.org {
    cache 30 {
        disable success nocache.example.org
    }
    hosts hosts.txt {
        ttl 3600
        reload 100ms
    }
    prometheus 127.0.0.1:${metricsPort}
}
who.test {
    cache {
        success 1024 3600 600
    }
    whoami
}
example.net {
    cache {
        disable denial sub.example.net
    }
    file example.net.db {
        reload 100ms
    }
}
`,
      { args: ['-dns.port', String(port)], files: { 'hosts.txt': hosts(1), 'example.net.db': zone(1, '') } },
    );
    hostsFile = path.join(srv.dir, 'hosts.txt');
  });
  after(async () => {
    await srv.stop();
  });

  it('serves the cached answer until it expires, while the backend already has another one', async () => {
    const before = await metrics();
    const zl = { server: `dns://:${port}`, zones: 'example.org.' };
    const first = await query(port, 'www.example.org.', RRType.A);
    assert.deepEqual(addrs(first), ['192.0.2.1']);
    assert.equal(first.answers[0]!.ttl, 30, 'the hosts TTL 3600 is capped to the cache TTL 30');
    fs.writeFileSync(hostsFile, hosts(2));
    await sleep(400); // hosts has re-read its file by now
    const nocache = await query(port, 'a.nocache.example.org.', RRType.A);
    assert.deepEqual(addrs(nocache), ['192.0.2.2'], 'disable success: this zone always sees the backend');
    const second = await query(port, 'WWW.example.ORG.', RRType.A);
    assert.deepEqual(addrs(second), ['192.0.2.1'], 'still the cached answer');
    assert.equal(second.questions[0]!.name, 'WWW.example.ORG.');
    assert.equal(second.aa, true);
    const again = await query(port, 'a.nocache.example.org.', RRType.A);
    assert.deepEqual(addrs(again), ['192.0.2.2']);

    const after = await metrics();
    const delta = (name: string, labels: Record<string, string>): number => metric(after, name, labels) - metric(before, name, labels);
    assert.equal(delta('coredns_cache_requests_total', zl), 4);
    assert.equal(delta('coredns_cache_hits_total', { ...zl, type: 'success' }), 1);
    assert.equal(delta('coredns_cache_misses_total', zl), 3);
    assert.equal(metric(after, 'coredns_cache_entries', { ...zl, type: 'success' }), 1, 'only www is stored; the disabled zone is not');
  });

  it('counts the TTL down between two queries 2 s apart', async () => {
    const t0 = Date.now();
    const first = await query(port, 'ttl.example.org.', RRType.A);
    await sleep(2000);
    const second = await query(port, 'ttl.example.org.', RRType.A);
    const elapsed = Math.floor((Date.now() - t0) / 1000);
    const drop = first.answers[0]!.ttl - second.answers[0]!.ttl;
    assert.ok(drop >= 2 && drop <= elapsed, `TTL ${first.answers[0]!.ttl} → ${second.answers[0]!.ttl} after ${elapsed}s`);
  });

  it('keeps at most CAPACITY entries, evicting the least recently used', async () => {
    const zl = { server: `dns://:${port}`, zones: 'who.test.' };
    const n = 1100;
    for (let i = 0; i < n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => query(port, `n${i + k}.who.test.`, RRType.A)));
    }
    const m1 = await metrics();
    assert.equal(metric(m1, 'coredns_cache_entries', { ...zl, type: 'success' }), 1024);
    assert.equal(metric(m1, 'coredns_cache_evictions_total', { ...zl, type: 'success' }), n - 1024);
    // The latest name is still there; the first ones were evicted. (Queries of a batch finish in any
    // order, so test well inside each end.)
    await query(port, `n${n - 1}.who.test.`, RRType.A);
    const m2 = await metrics();
    assert.equal(metric(m2, 'coredns_cache_hits_total', { ...zl, type: 'success' }) - metric(m1, 'coredns_cache_hits_total', { ...zl, type: 'success' }), 1);
    await query(port, 'n0.who.test.', RRType.A);
    const m3 = await metrics();
    assert.equal(metric(m3, 'coredns_cache_misses_total', zl) - metric(m2, 'coredns_cache_misses_total', zl), 1);
    assert.equal(metric(m3, 'coredns_cache_entries', { ...zl, type: 'success' }), 1024);
  });

  it('caches NXDOMAIN and NODATA for the SOA\'s negative TTL, except where denial is disabled', async () => {
    const zl = { server: `dns://:${port}`, zones: 'example.net.' };
    const before = await metrics();
    const nx = await query(port, 'new.example.net.', RRType.A);
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(nx.authorities.map((r) => [r.type, r.ttl]), [[RRType.SOA, 20]], 'min(SOA TTL 30, MINIMUM 20)');
    const nodata = await query(port, 'www.example.net.', RRType.AAAA);
    assert.equal(nodata.rcode, Rcode.NOERROR);
    assert.equal(nodata.answers.length, 0);
    assert.equal((await query(port, 'x.sub.example.net.', RRType.A)).rcode, Rcode.NXDOMAIN);

    fs.writeFileSync(path.join(srv.dir, 'example.net.db'), zone(2, 'new   30 IN A    192.0.2.99\nwww   30 IN AAAA 2001:db8::80\nx.sub 30 IN A    192.0.2.98\n'));
    await sleep(500); // the file plugin has the new zone by now
    assert.deepEqual(addrs(await query(port, 'x.sub.example.net.', RRType.A)), ['192.0.2.98'], 'denial not cached under sub.example.net');
    const stillNx = await query(port, 'new.example.net.', RRType.A);
    assert.equal(stillNx.rcode, Rcode.NXDOMAIN, 'the cached NXDOMAIN is served');
    assert.ok(stillNx.authorities[0]!.ttl <= 20);
    const stillNodata = await query(port, 'www.example.net.', RRType.AAAA);
    assert.equal(stillNodata.answers.length, 0, 'the cached NODATA is served');
    const withDo = await query(port, 'www.example.net.', RRType.AAAA, { udpSize: 1232, do: true });
    assert.equal(withDo.answers.length, 1, 'the DO bit is part of the key: this one reaches the new zone');

    const after = await metrics();
    const delta = (name: string, labels: Record<string, string>): number => metric(after, name, labels) - metric(before, name, labels);
    assert.equal(delta('coredns_cache_hits_total', { ...zl, type: 'denial' }), 2);
    assert.equal(metric(after, 'coredns_cache_entries', { ...zl, type: 'denial' }), 2);
  });
});
