/**
 * autopath end to end: the real CLI, the kubernetes plugin fed by a watch on the Kubernetes API
 * test double with `pods verified`, and a real upstream behind forward for external names. The
 * test client's address (127.0.0.1) is a Running Pod in namespace `prod`.
 *
 * One process serves two ports from the same cluster: one with `autopath @kubernetes`, one
 * without, so the last test can count what a Pod's stub resolver (search path and ndots:5 as
 * kubelet writes them) sends to each for the same lookups.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../src/dns/constants.js';
import { decodeMessage } from '../src/dns/decode.js';
import type { Message } from '../src/dns/message.js';
import { rrToString } from '../src/dns/presentation.js';
import { buildQuery, query } from './support/dns-client.js';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi, type KubeObject } from './support/fake-kube-api.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { UpstreamServer, rr } from './support/upstream-server.js';

const POD_IP = '127.0.0.1';

const pod = (namespace: string, name: string, ip: string, phase = 'Running'): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name }, spec: { nodeName: 'node-1' }, status: { phase, podIP: ip, podIPs: [{ ip }] },
});

const cluster: KubeObject[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'staging' } },
  { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'prod', name: 'web' }, spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'staging', name: 'web' }, spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
  pod('prod', 'client', POD_IP),
];

/** Records as zone-file text with single spaces, in order. */
const text = (m: Message): string[] => m.answers.map((r) => rrToString(r).split('\t').join(' '));

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The sum of the samples of `name` whose labels include `labels`. */
function metric(body: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const [, inner = '', value = ''] = /^[^{]+\{([^}]*)\} (\S+)$/.exec(line) ?? [];
    const got = Object.fromEntries([...inner.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(value);
  }
  return sum;
}

/** One UDP query sent from a chosen loopback address (another "Pod"). */
function queryFrom(source: string, port: number, name: string, type: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    const wire = buildQuery(name, type);
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('udp query timed out')); }, 3000);
    s.on('message', (msg) => {
      clearTimeout(t);
      s.close();
      resolve(decodeMessage(msg));
    });
    s.bind(0, source, () => s.send(wire, port, '127.0.0.1'));
  });
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A Pod's stub resolver as glibc's res_nsearch works with kubelet's resolv.conf
 * (`search <ns>.svc.cluster.local svc.cluster.local cluster.local`, `options ndots:5`): a name
 * with fewer than 5 dots is tried with each search domain first and as given last; the next
 * candidate is tried after NXDOMAIN or NODATA. getaddrinfo (AF_UNSPEC) asks A and AAAA together
 * for each candidate and stops when either has an answer. Returns the queries sent.
 */
async function stubResolve(port: number, name: string, types: number[]): Promise<{ queries: number; found: Message | undefined }> {
  const search = ['prod.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
  const dots = name.split('.').length - 1;
  const candidates = dots >= 5 ? [`${name}.`, ...search.map((s) => `${name}.${s}.`)] : [...search.map((s) => `${name}.${s}.`), `${name}.`];
  let queries = 0;
  for (const c of candidates) {
    const replies = await Promise.all(types.map((t) => query(port, c, t)));
    queries += types.length;
    const found = replies.find((m) => m.rcode === Rcode.NOERROR && m.answers.length > 0);
    if (found) return { queries, found };
  }
  return { queries, found: undefined };
}

describe('autopath @kubernetes end to end', () => {
  let api: FakeKubeApi;
  let upstream: UpstreamServer;
  let srv: ServerProcess;
  let port: number;
  let plainPort: number;
  let metricsPort: number;

  before(async () => {
    api = await startFakeKubeApi({ objects: cluster });
    upstream = await UpstreamServer.start({ records: [rr.a('www.example.org.', '93.184.216.34')] });
    [port, plainPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const block = (p: number, extra: string): string => `.:${p} {
    log
    prometheus 127.0.0.1:${metricsPort}
${extra}    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig kubeconfig
        pods verified
    }
    forward . ${upstream.addr}
}
`;
    const kubeconfig = fs.readFileSync(writeKubeconfig(fs.mkdtempSync(path.join(os.tmpdir(), 'autopath-kube-')), api.url), 'utf8');
    srv = await startServer(block(port, '    autopath @kubernetes\n') + block(plainPort, ''), { files: { kubeconfig } });
    // The Pod index fills from the watch: wait until the client is known as a Pod in prod.
    await until('the client Pod to be indexed', async () => {
      const m = await query(port, 'web.prod.svc.cluster.local.prod.svc.cluster.local.', RRType.A);
      return m.rcode === Rcode.NOERROR;
    });
  });

  after(async () => {
    await srv?.stop();
    await upstream?.stop();
    await api?.close();
  });

  it('answers a Service asked as the first search-path expansion with a CNAME and its A, over UDP and TCP', async () => {
    for (const tcp of [false, true]) {
      const m = await query(port, 'web.prod.svc.cluster.local.prod.svc.cluster.local.', RRType.A, { tcp });
      assert.equal(m.rcode, Rcode.NOERROR, tcp ? 'tcp' : 'udp');
      assert.deepEqual(m.questions.map((q) => q.name), ['web.prod.svc.cluster.local.prod.svc.cluster.local.']);
      assert.deepEqual(text(m), [
        'web.prod.svc.cluster.local.prod.svc.cluster.local. 5 IN CNAME web.prod.svc.cluster.local.',
        'web.prod.svc.cluster.local. 5 IN A 10.96.0.10',
      ], tcp ? 'tcp' : 'udp');
    }
  });

  it('answers an external name asked with the Pod\'s first search domain with a CNAME to it and its A from upstream', async () => {
    const m = await query(port, 'www.example.org.prod.svc.cluster.local.', RRType.A);
    assert.equal(m.rcode, Rcode.NOERROR);
    assert.deepEqual(text(m), [
      'www.example.org.prod.svc.cluster.local. 300 IN CNAME www.example.org.',
      'www.example.org. 300 IN A 93.184.216.34',
    ]);
  });

  it('leaves queries from an address with no Pod alone', async () => {
    const m = await queryFrom('127.0.0.2', port, 'web.prod.svc.cluster.local.prod.svc.cluster.local.', RRType.A);
    assert.equal(m.rcode, Rcode.NXDOMAIN);
    assert.deepEqual(m.answers, []);
    const ext = await queryFrom('127.0.0.2', port, 'www.example.org.prod.svc.cluster.local.', RRType.A);
    assert.equal(ext.rcode, Rcode.NXDOMAIN);
  });

  it('leaves the port without autopath alone', async () => {
    const m = await query(plainPort, 'www.example.org.prod.svc.cluster.local.', RRType.A);
    assert.equal(m.rcode, Rcode.NXDOMAIN);
  });

  it('counts coredns_autopath_success_total for the server', async () => {
    const before = metric(await scrape(metricsPort), 'coredns_autopath_success_total', { server: `dns://:${port}` });
    await query(port, 'web.prod.svc.cluster.local.prod.svc.cluster.local.', RRType.A);
    await query(port, 'nothing.here.prod.svc.cluster.local.', RRType.A);
    const after = metric(await scrape(metricsPort), 'coredns_autopath_success_total', { server: `dns://:${port}` });
    assert.equal(after - before, 1);
  });

  it('follows the watch: a Pod that moves to another namespace gets that namespace\'s search path', async () => {
    api.remove('Pod', 'prod', 'client');
    api.apply(pod('staging', 'client', POD_IP));
    await until('the Pod to move', async () => (await query(port, 'web.staging.svc.cluster.local.', RRType.A)).answers.length === 1
      && (await query(port, 'web.prod.svc.cluster.local.prod.svc.cluster.local.', RRType.A)).rcode === Rcode.NXDOMAIN);
    const m = await query(port, 'www.example.org.staging.svc.cluster.local.', RRType.A);
    assert.deepEqual(text(m), [
      'www.example.org.staging.svc.cluster.local. 300 IN CNAME www.example.org.',
      'www.example.org. 300 IN A 93.184.216.34',
    ]);
    api.remove('Pod', 'staging', 'client');
    api.apply(pod('prod', 'client', POD_IP));
    await until('the Pod to move back', async () => (await query(port, 'web.prod.svc.cluster.local.prod.svc.cluster.local.', RRType.A)).rcode === Rcode.NOERROR);
  });

  it('measures: queries a Pod\'s resolver sends for one lookup, with and without autopath', async (t) => {
    const lookups: Array<{ name: string; types: number[]; without: number; with: number }> = [
      { name: 'www.example.org', types: [RRType.A], without: 4, with: 1 },
      { name: 'www.example.org', types: [RRType.A, RRType.AAAA], without: 8, with: 2 },
      { name: 'web.prod.svc.cluster.local', types: [RRType.A], without: 4, with: 1 },
      { name: 'web.staging', types: [RRType.A], without: 2, with: 1 },
      { name: 'web', types: [RRType.A], without: 1, with: 1 },
    ];
    const requests = async (p: number): Promise<number> => metric(await scrape(metricsPort), 'coredns_dns_requests_total', { server: `dns://:${p}` });
    for (const l of lookups) {
      const counts: Record<'with' | 'without', number> = { with: 0, without: 0 };
      for (const [which, p] of [['without', plainPort], ['with', port]] as const) {
        const before = await requests(p);
        const up = upstream.queries.length;
        const { queries, found } = await stubResolve(p, l.name, l.types);
        assert.ok(found, `${l.name} resolves ${which} autopath`);
        assert.ok(found.answers.some((a) => a.type === RRType.A), `${l.name}: an A record ${which} autopath`);
        const reached = (await requests(p)) - before;
        assert.equal(reached, queries, 'every query the resolver sent reached the server, and no other');
        counts[which] = reached;
        t.diagnostic(`${l.name} (${l.types.map((x) => (x === RRType.A ? 'A' : 'AAAA')).join('+')}) ${which} autopath: ${reached} queries to the server, ${upstream.queries.length - up} to the upstream`);
      }
      assert.deepEqual(counts, { without: l.without, with: l.with }, l.name);
    }
  });
});

