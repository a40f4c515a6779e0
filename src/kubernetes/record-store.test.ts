/**
 * The record store: incremental updates, serial and version behaviour, reverse and pod indexes,
 * option handling at ingest, and the memo built on the versions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RRType } from '../dns/constants.js';
import { lookup, type LookupOptions } from './lookup.js';
import { AnswerMemo, SecondSighting } from './memo.js';
import type { SlimService } from './objects.js';
import { RecordStore, SERIAL_DEP, namespaceDep, podDep, reverseDep, serviceDep, type DepKey, type RecordStoreOptions } from './record-store.js';
import { clusterIpService, endpoint, externalService, headlessService, port, rrText, slice } from './testing.js';

const ZONE = 'cluster.local.';
const OPTS: LookupOptions = { primaryZone: ZONE };

/** A store on a controllable clock (ms). */
function newStore(opts: RecordStoreOptions = {}): { store: RecordStore; clock: { ms: number } } {
  const clock = { ms: 1_700_000_000_000 };
  const store = new RecordStore({ now: () => clock.ms, ...opts });
  store.upsertNamespace({ name: 'ns' });
  return { store, clock };
}

function answer(store: RecordStore, qname: string, qtype: number, zone = ZONE): string[] {
  const a = lookup(store, OPTS, qname, qtype, zone);
  return [a.rcode === 3 ? 'NXDOMAIN' : a.answers.length === 0 ? 'NODATA' : 'NOERROR', ...a.answers.map(rrText).sort()];
}

/** Runs fn and returns the keys the store reported changed (without SERIAL_DEP), and whether the serial moved. */
function changes(store: RecordStore, fn: () => void): { keys: DepKey[]; serialMoved: boolean } {
  const keys: DepKey[] = [];
  const before = store.serial;
  const off = store.subscribe((changed) => keys.push(...changed.filter((k) => k !== SERIAL_DEP)));
  try {
    fn();
  } finally {
    off();
  }
  return { keys: keys.sort(), serialMoved: store.serial !== before };
}

describe('serial and generations', () => {
  test('the serial is Unix seconds, strictly increasing, and moves once per DNS-relevant mutation', () => {
    const { store, clock } = newStore();
    assert.equal(store.serial, 1_700_000_000);
    assert.equal(store.generation, 1);
    store.upsertService(clusterIpService('ns', 'a', ['10.0.0.1']));
    store.upsertService(clusterIpService('ns', 'b', ['10.0.0.2']));
    assert.equal(store.serial, 1_700_000_002, 'same second: +1 each');
    clock.ms += 60_000;
    store.upsertService(clusterIpService('ns', 'c', ['10.0.0.3']));
    assert.equal(store.serial, 1_700_000_060, 'follows the clock when it is ahead');
    clock.ms -= 3_600_000;
    store.deleteService('ns', 'c');
    assert.equal(store.serial, 1_700_000_061, 'never goes back with the clock');
    assert.equal(store.generation, 5);
  });

  test('identical re-upserts change nothing', () => {
    const { store } = newStore({ pods: 'verified' });
    const svc = clusterIpService('ns', 'web', ['10.0.0.1', 'fd00::1'], [port('http', 80), port('dns', 53, 'UDP')]);
    const sl = slice('ns', 'web-abc', 'web', [endpoint('10.1.0.1', { hostname: 'h' }), endpoint('10.1.0.2')], [port('http', 80)]);
    const pod = { namespace: 'ns', name: 'p', ips: ['10.1.0.1'], running: true };
    store.upsertService(svc);
    store.upsertEndpointSlice(sl);
    store.upsertPod(pod);
    for (const fn of [
      () => store.upsertService(structuredClone(svc)),
      () => store.upsertEndpointSlice(structuredClone(sl)),
      () => store.upsertNamespace({ name: 'ns' }),
      () => store.upsertPod({ ...pod }),
      () => store.deleteService('ns', 'nope'),
      () => store.deleteEndpointSlice('ns', 'nope'),
      () => store.deletePod('ns', 'nope'),
      () => store.deleteNamespace('nope'),
    ]) {
      assert.deepEqual(changes(store, fn), { keys: [], serialMoved: false });
    }
  });

  test('fields DNS never shows change nothing', () => {
    const { store } = newStore();
    store.upsertService(clusterIpService('ns', 'web', ['10.0.0.1']));
    const sl = slice('ns', 'web-abc', 'web', [endpoint('10.1.0.1'), endpoint('10.1.0.9', { ready: false })], [port('http', 80)]);
    store.upsertEndpointSlice(sl);
    const versions = [store.version(serviceDep('ns', 'web')), store.version(reverseDep('10.1.0.1'))];
    for (const fn of [
      () => store.upsertService(clusterIpService('ns', 'web', ['10.0.0.1'], [port('http', 80)], { type: 'NodePort' })),
      () => store.upsertService(clusterIpService('ns', 'web', ['10.0.0.1'], [port('http', 80)], { type: 'LoadBalancer' })),
      () => store.upsertEndpointSlice({ ...sl, lastChangeTriggerTime: 12345 }),
      () => store.upsertEndpointSlice({ ...sl, endpoints: [endpoint('10.1.0.1', { nodeName: 'node-7', serving: false }), endpoint('10.1.0.9', { ready: false })] }),
      // A not-ready endpoint that stays excluded.
      () => store.upsertEndpointSlice({ ...sl, endpoints: [endpoint('10.1.0.1'), endpoint('10.1.0.9', { ready: false, hostname: 'x', terminating: true })] }),
    ]) {
      assert.deepEqual(changes(store, fn), { keys: [], serialMoved: false });
    }
    assert.deepEqual([store.version(serviceDep('ns', 'web')), store.version(reverseDep('10.1.0.1'))], versions);
  });
});

describe('incremental updates', () => {
  test('adding and removing endpoints of a headless service', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'db', [port('pg', 5432)]));
    store.upsertService(clusterIpService('ns', 'other', ['10.0.0.5']));
    const otherVersion = store.version(serviceDep('ns', 'other'));
    assert.deepEqual(answer(store, 'db.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);

    let c = changes(store, () => store.upsertEndpointSlice(slice('ns', 'db-1', 'db', [endpoint('10.2.0.1', { hostname: 'db-0' })], [port('pg', 5432)])));
    assert.deepEqual(c, { keys: [reverseDep('10.2.0.1'), serviceDep('ns', 'db')].sort(), serialMoved: true });
    assert.deepEqual(answer(store, 'db.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'db.ns.svc.cluster.local. 5 IN A 10.2.0.1']);

    // Add an endpoint to the same slice.
    c = changes(store, () => store.upsertEndpointSlice(slice('ns', 'db-1', 'db', [endpoint('10.2.0.1', { hostname: 'db-0' }), endpoint('10.2.0.2', { hostname: 'db-1' })], [port('pg', 5432)])));
    assert.deepEqual(c.keys, [reverseDep('10.2.0.2'), serviceDep('ns', 'db')].sort(), 'only the new address and the service');
    assert.deepEqual(answer(store, 'db-1.db.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'db-1.db.ns.svc.cluster.local. 5 IN A 10.2.0.2']);

    // A second slice (e.g. IPv6), then remove the first one.
    store.upsertEndpointSlice(slice('ns', 'db-2', 'db', [endpoint('fd00::2:3', { hostname: 'db-2' })], [port('pg', 5432)], 'IPv6'));
    assert.deepEqual(answer(store, 'db.ns.svc.cluster.local.', RRType.AAAA), ['NOERROR', 'db.ns.svc.cluster.local. 5 IN AAAA fd00::2:3']);
    c = changes(store, () => store.deleteEndpointSlice('ns', 'db-1'));
    assert.deepEqual(c.keys, [reverseDep('10.2.0.1'), reverseDep('10.2.0.2'), serviceDep('ns', 'db')].sort());
    assert.deepEqual(answer(store, 'db.ns.svc.cluster.local.', RRType.A), ['NODATA']);
    assert.deepEqual(answer(store, '1.0.2.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NXDOMAIN']);
    assert.equal(store.version(reverseDep('10.2.0.1')), 0);
    store.deleteEndpointSlice('ns', 'db-2');
    assert.deepEqual(answer(store, 'db.ns.svc.cluster.local.', RRType.AAAA), ['NXDOMAIN']);
    assert.equal(store.version(serviceDep('ns', 'other')), otherVersion, 'other services untouched');
    assert.deepEqual(store.stats(), { services: 2, entries: 2, slices: 0, endpoints: 0, namespaces: 1, reverse: 1, pods: 0 });
  });

  test('duplicate addresses across slices: removing one copy changes nothing', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'h'));
    store.upsertEndpointSlice(slice('ns', 'h-old', 'h', [endpoint('10.3.0.1'), endpoint('10.3.0.2')]));
    store.upsertEndpointSlice(slice('ns', 'h-new', 'h', [endpoint('10.3.0.2'), endpoint('10.3.0.1')]));
    assert.equal(store.entry('ns', 'h')?.endpoints.length, 2);
    assert.deepEqual(changes(store, () => store.deleteEndpointSlice('ns', 'h-old')), { keys: [], serialMoved: false });
    assert.deepEqual(answer(store, 'h.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'h.ns.svc.cluster.local. 5 IN A 10.3.0.1', 'h.ns.svc.cluster.local. 5 IN A 10.3.0.2']);
    assert.deepEqual(lookup(store, OPTS, 'h.ns.svc.cluster.local.', RRType.A, ZONE).sources.map((s) => s.name), ['h', 'h-new']);
  });

  test('service type change: ClusterIP → ExternalName → headless → ClusterIP', () => {
    const { store } = newStore();
    store.upsertService(clusterIpService('ns', 'web', ['10.0.0.1']));
    store.upsertEndpointSlice(slice('ns', 'web-1', 'web', [endpoint('10.4.0.1')], [port('http', 80)]));
    assert.deepEqual(answer(store, '1.0.0.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NOERROR', '1.0.0.10.in-addr.arpa. 5 IN PTR web.ns.svc.cluster.local.']);

    const c = changes(store, () => store.upsertService(externalService('ns', 'web', 'example.com.')));
    assert.deepEqual(c, { keys: [reverseDep('10.0.0.1'), serviceDep('ns', 'web')].sort(), serialMoved: true });
    assert.deepEqual(answer(store, 'web.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'web.ns.svc.cluster.local. 5 IN CNAME example.com.']);
    assert.deepEqual(answer(store, '1.0.0.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NXDOMAIN']);

    store.upsertService(headlessService('ns', 'web', [port('http', 80)]));
    assert.deepEqual(answer(store, 'web.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'web.ns.svc.cluster.local. 5 IN A 10.4.0.1']);

    store.upsertService(clusterIpService('ns', 'web', ['10.0.0.7', 'fd00::7']));
    assert.deepEqual(answer(store, 'web.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'web.ns.svc.cluster.local. 5 IN A 10.0.0.7']);
    assert.deepEqual(answer(store, 'web.ns.svc.cluster.local.', RRType.AAAA), ['NOERROR', 'web.ns.svc.cluster.local. 5 IN AAAA fd00::7']);
    assert.deepEqual(
      answer(store, '7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.', RRType.PTR, 'ip6.arpa.'),
      ['NOERROR', '7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 5 IN PTR web.ns.svc.cluster.local.'],
    );
    // Dual-stack → single-stack drops the IPv6 reverse entry only.
    const c2 = changes(store, () => store.upsertService(clusterIpService('ns', 'web', ['10.0.0.7'])));
    assert.deepEqual(c2.keys, [reverseDep('fd00::7'), serviceDep('ns', 'web')].sort());
  });

  test('publishNotReadyAddresses re-merges the endpoints', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'h'));
    store.upsertEndpointSlice(slice('ns', 'h-1', 'h', [endpoint('10.5.0.1'), endpoint('10.5.0.2', { ready: false })]));
    assert.deepEqual(answer(store, 'h.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'h.ns.svc.cluster.local. 5 IN A 10.5.0.1']);
    const c = changes(store, () => store.upsertService(headlessService('ns', 'h', [], { publishNotReadyAddresses: true })));
    assert.deepEqual(c.keys, [reverseDep('10.5.0.2'), serviceDep('ns', 'h')].sort());
    assert.deepEqual(answer(store, 'h.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'h.ns.svc.cluster.local. 5 IN A 10.5.0.1', 'h.ns.svc.cluster.local. 5 IN A 10.5.0.2']);
    // Deleting the service falls back to ready-only for the reverse index.
    store.deleteService('ns', 'h');
    assert.deepEqual(answer(store, '2.0.5.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NXDOMAIN']);
    assert.deepEqual(answer(store, '1.0.5.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NOERROR', '1.0.5.10.in-addr.arpa. 5 IN PTR 10-5-0-1.h.ns.svc.cluster.local.']);
  });

  test('an endpoint that becomes ready, then terminating', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'h'));
    const sl = (e: Parameters<typeof endpoint>[1]) => slice('ns', 'h-1', 'h', [endpoint('10.6.0.1', { hostname: 'a', ...e })]);
    store.upsertEndpointSlice(sl({ ready: false }));
    assert.deepEqual(answer(store, 'a.h.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
    assert.equal(changes(store, () => store.upsertEndpointSlice(sl({ ready: true }))).serialMoved, true);
    assert.deepEqual(answer(store, 'a.h.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'a.h.ns.svc.cluster.local. 5 IN A 10.6.0.1']);
    assert.equal(changes(store, () => store.upsertEndpointSlice(sl({ ready: false, terminating: true }))).serialMoved, true);
    assert.deepEqual(answer(store, 'a.h.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
  });

  test('hostname change moves the PTR and the endpoint name', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'h'));
    store.upsertEndpointSlice(slice('ns', 'h-1', 'h', [endpoint('10.7.0.1', { hostname: 'old' })]));
    const v = store.version(reverseDep('10.7.0.1'));
    store.upsertEndpointSlice(slice('ns', 'h-1', 'h', [endpoint('10.7.0.1', { hostname: 'new' })]));
    assert.notEqual(store.version(reverseDep('10.7.0.1')), v);
    assert.deepEqual(answer(store, '1.0.7.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NOERROR', '1.0.7.10.in-addr.arpa. 5 IN PTR new.h.ns.svc.cluster.local.']);
    assert.deepEqual(answer(store, 'old.h.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
    assert.deepEqual(answer(store, 'new.h.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'new.h.ns.svc.cluster.local. 5 IN A 10.7.0.1']);
  });

  test('a slice relabelled to another service moves with it', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'a'));
    store.upsertService(headlessService('ns', 'b'));
    store.upsertEndpointSlice(slice('ns', 's-1', 'a', [endpoint('10.8.0.1')]));
    const c = changes(store, () => store.upsertEndpointSlice(slice('ns', 's-1', 'b', [endpoint('10.8.0.1')])));
    assert.deepEqual(c.keys, [reverseDep('10.8.0.1'), serviceDep('ns', 'a'), serviceDep('ns', 'b')].sort());
    assert.deepEqual(answer(store, 'a.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
    assert.deepEqual(answer(store, 'b.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'b.ns.svc.cluster.local. 5 IN A 10.8.0.1']);
    assert.deepEqual(answer(store, '1.0.8.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NOERROR', '1.0.8.10.in-addr.arpa. 5 IN PTR 10-8-0-1.b.ns.svc.cluster.local.']);
    store.deleteEndpointSlice('ns', 's-1');
    assert.equal(store.stats().slices, 0);
  });

  test('slices before their service, service deleted before its slices', () => {
    const { store } = newStore();
    store.upsertEndpointSlice(slice('ns', 'x-1', 'x', [endpoint('10.9.0.1')]));
    assert.deepEqual(answer(store, 'x.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
    // CoreDNS indexes slices by their service-name label, service or not.
    assert.deepEqual(answer(store, '1.0.9.10.in-addr.arpa.', RRType.PTR, 'in-addr.arpa.'), ['NOERROR', '1.0.9.10.in-addr.arpa. 5 IN PTR 10-9-0-1.x.ns.svc.cluster.local.']);
    store.upsertService(headlessService('ns', 'x'));
    assert.deepEqual(answer(store, 'x.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'x.ns.svc.cluster.local. 5 IN A 10.9.0.1']);
    store.deleteService('ns', 'x');
    assert.deepEqual(answer(store, 'x.ns.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
    assert.ok(store.entry('ns', 'x'), 'the slices keep the entry');
    store.deleteEndpointSlice('ns', 'x-1');
    assert.equal(store.entry('ns', 'x'), undefined);
    assert.equal(store.version(serviceDep('ns', 'x')), 0);
  });

  test('namespaces appear and disappear', () => {
    const { store } = newStore();
    store.upsertService(clusterIpService('late', 'web', ['10.0.1.1']));
    assert.deepEqual(answer(store, 'web.late.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
    assert.equal(store.version(namespaceDep('late')), 0);
    assert.deepEqual(changes(store, () => store.upsertNamespace({ name: 'late' })), { keys: [namespaceDep('late')], serialMoved: true });
    assert.deepEqual(answer(store, 'web.late.svc.cluster.local.', RRType.A), ['NOERROR', 'web.late.svc.cluster.local. 5 IN A 10.0.1.1']);
    assert.deepEqual(changes(store, () => store.deleteNamespace('late')), { keys: [namespaceDep('late')], serialMoved: true });
    assert.deepEqual(answer(store, 'late.svc.cluster.local.', RRType.A), ['NXDOMAIN']);
  });
});

describe('options at ingest', () => {
  test('namespaces: objects outside the list are neither stored nor counted as changes', () => {
    const { store } = newStore({ namespaces: ['ns'], pods: 'verified' });
    const c = changes(store, () => {
      store.upsertNamespace({ name: 'other' });
      store.upsertService(clusterIpService('other', 'web', ['10.0.2.1']));
      store.upsertEndpointSlice(slice('other', 'web-1', 'web', [endpoint('10.2.2.1')]));
      store.upsertPod({ namespace: 'other', name: 'p', ips: ['10.2.2.1'], running: true });
    });
    assert.deepEqual(c, { keys: [], serialMoved: false });
    assert.deepEqual(store.stats(), { services: 0, entries: 0, slices: 0, endpoints: 0, namespaces: 1, reverse: 0, pods: 0 });
    assert.equal(store.namespaceExposed('other'), false);
    assert.equal(store.namespaceExposed('ns'), true);
  });

  test('noEndpoints ignores slices; pods are only indexed in verified mode', () => {
    const { store } = newStore({ noEndpoints: true, pods: 'insecure' });
    store.upsertEndpointSlice(slice('ns', 'a-1', 'a', [endpoint('10.0.3.1')]));
    store.upsertPod({ namespace: 'ns', name: 'p', ips: ['10.0.3.1'], running: true });
    assert.deepEqual(store.stats(), { services: 0, entries: 0, slices: 0, endpoints: 0, namespaces: 1, reverse: 0, pods: 0 });
  });

  test('pods verified: running pods by IP, updates and deletes', () => {
    const { store } = newStore({ pods: 'verified' });
    const q = '10-0-4-1.ns.pod.cluster.local.';
    store.upsertPod({ namespace: 'ns', name: 'p', ips: ['10.0.4.1'], running: false });
    assert.deepEqual(answer(store, q, RRType.A), ['NXDOMAIN']);
    assert.equal(changes(store, () => store.upsertPod({ namespace: 'ns', name: 'p', ips: ['10.0.4.1'], running: true })).serialMoved, true);
    assert.deepEqual(answer(store, q, RRType.A), ['NOERROR', `${q} 5 IN A 10.0.4.1`]);
    // Two pods with one IP (hostNetwork): deleting one keeps the answer.
    store.upsertPod({ namespace: 'ns', name: 'q', ips: ['10.0.4.1'], running: true });
    store.deletePod('ns', 'p');
    assert.deepEqual(answer(store, q, RRType.A), ['NOERROR', `${q} 5 IN A 10.0.4.1`]);
    const c = changes(store, () => store.upsertPod({ namespace: 'ns', name: 'q', ips: ['10.0.4.2'], running: true }));
    assert.deepEqual(c.keys, [podDep('10.0.4.1'), podDep('10.0.4.2')].sort());
    assert.deepEqual(answer(store, q, RRType.A), ['NXDOMAIN']);
    store.deletePod('ns', 'q');
    assert.equal(store.stats().pods, 0);
    assert.equal(store.version(podDep('10.0.4.2')), 0);
  });
});

describe('lookups in big services', () => {
  test('endpoint names in a service with many endpoints use the name index, rebuilt after changes', () => {
    const { store } = newStore();
    store.upsertService(headlessService('ns', 'big'));
    const eps = Array.from({ length: 50 }, (_, i) => endpoint(`10.10.0.${i}`, { hostname: `m-${i}` }));
    store.upsertEndpointSlice(slice('ns', 'big-1', 'big', eps));
    assert.deepEqual(answer(store, 'm-7.big.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'm-7.big.ns.svc.cluster.local. 5 IN A 10.10.0.7']);
    store.upsertEndpointSlice(slice('ns', 'big-1', 'big', [...eps.slice(0, 7), endpoint('10.10.1.7', { hostname: 'm-7' }), ...eps.slice(8)]));
    assert.deepEqual(answer(store, 'm-7.big.ns.svc.cluster.local.', RRType.A), ['NOERROR', 'm-7.big.ns.svc.cluster.local. 5 IN A 10.10.1.7']);
    assert.equal(lookup(store, OPTS, 'big.ns.svc.cluster.local.', RRType.A, ZONE).answers.length, 50);
  });
});

describe('memoization on versions', () => {
  test('an answer stays memoized until one of its dependencies changes, and only then', () => {
    const { store } = newStore();
    store.upsertService(clusterIpService('ns', 'web', ['10.0.5.1']));
    store.upsertService(clusterIpService('ns', 'other', ['10.0.5.2']));
    const memo = new AnswerMemo<string[]>(store);
    let computed = 0;
    const ask = (qname: string, qtype: number): string[] => {
      const hit = memo.get(qname, qtype);
      if (hit) return hit;
      computed++;
      const a = lookup(store, OPTS, qname, qtype, ZONE);
      const value = a.answers.map(rrText);
      memo.set(qname, qtype, a.deps, value);
      return value;
    };
    const web = 'web.ns.svc.cluster.local.';
    assert.deepEqual(ask(web, RRType.A), ['web.ns.svc.cluster.local. 5 IN A 10.0.5.1']);
    ask(web, RRType.A);
    assert.equal(computed, 1);
    // Unrelated changes keep the positive answer (but move the serial).
    store.upsertService(clusterIpService('ns', 'other', ['10.0.5.3']));
    store.upsertEndpointSlice(slice('ns', 'other-1', 'other', [endpoint('10.5.5.1')]));
    ask(web, RRType.A);
    assert.equal(computed, 1);
    // Its own service changes: recomputed.
    store.upsertService(clusterIpService('ns', 'web', ['10.0.5.9']));
    assert.deepEqual(ask(web, RRType.A), ['web.ns.svc.cluster.local. 5 IN A 10.0.5.9']);
    assert.equal(computed, 2);
    // Deleted, then re-created identical: the version differs from the first one.
    store.deleteService('ns', 'web');
    assert.deepEqual(ask(web, RRType.A), []);
    store.upsertService(clusterIpService('ns', 'web', ['10.0.5.9']));
    assert.deepEqual(ask(web, RRType.A), ['web.ns.svc.cluster.local. 5 IN A 10.0.5.9']);
    assert.equal(computed, 4);
    // The namespace going away invalidates it too.
    store.deleteNamespace('ns');
    assert.deepEqual(ask(web, RRType.A), []);
    assert.equal(computed, 5);
    assert.equal(memo.stale, 4);
  });

  test('negative answers depend on the serial (the SOA in authority)', () => {
    const { store } = newStore();
    const memo = new AnswerMemo<number>(store);
    const a = lookup(store, OPTS, 'nope.ns.svc.cluster.local.', RRType.A, ZONE);
    assert.ok(a.deps.includes(SERIAL_DEP));
    memo.set('nope.ns.svc.cluster.local.', RRType.A, a.deps, store.serial);
    assert.equal(memo.get('nope.ns.svc.cluster.local.', RRType.A), store.serial);
    store.upsertService(clusterIpService('ns', 'unrelated', ['10.0.6.1']));
    assert.equal(memo.get('nope.ns.svc.cluster.local.', RRType.A), undefined);
  });

  test('the memo is bounded', () => {
    const { store } = newStore();
    const memo = new AnswerMemo<number>(store, 3);
    for (let i = 0; i < 10; i++) memo.set(`n${i}.`, RRType.A, [], i);
    assert.equal(memo.size, 3);
    assert.equal(memo.get('n9.', RRType.A), 9);
    assert.equal(memo.get('n0.', RRType.A), undefined);
  });

  test('SecondSighting: names asked once stay unseen (~6% false "seen"); its bit set is cleared at an eighth full', () => {
    const fresh = new SecondSighting();
    assert.equal(fresh.seen('web.ns.svc.cluster.local.', RRType.A), false);
    assert.equal(fresh.seen('web.ns.svc.cluster.local.', RRType.AAAA), false, 'the type is part of the pair');
    assert.equal(fresh.seen('web.ns.svc.cluster.local.', RRType.A), true);
    // A flood of distinct names: the share counted as seen on first sight stays low on average.
    const s = new SecondSighting();
    let falseSeen = 0;
    const N = 1_000_000;
    for (let i = 0; i < N; i++) if (s.seen(`flood-${i}.ns.svc.cluster.local.`, RRType.A)) falseSeen++;
    assert.ok(falseSeen / N < 0.09, `${(100 * falseSeen / N).toFixed(1)}% of ${N} distinct names counted as seen`);
    // Seen within the window, and unseen again after a clearing.
    assert.equal(s.seen('n7.ns.svc.cluster.local.', RRType.A), false);
    assert.equal(s.seen('n7.ns.svc.cluster.local.', RRType.A), true);
    for (let i = 0; i < 300_000; i++) s.seen(`more-${i}.`, RRType.A);
    let stillSeen = 0;
    for (let i = 0; i < 1000; i++) if (s.seen(`flood-${N - 1 - i}.ns.svc.cluster.local.`, RRType.A)) stillSeen++;
    assert.ok(stillSeen < 200, `${stillSeen} of 1000 names from before a clearing still seen`);
  });
});

describe('normalization', () => {
  test('names are lower-cased, IPs canonical, invalid IPs dropped', () => {
    const { store } = newStore();
    const svc: SlimService = clusterIpService('NS', 'Web', ['FD00:0:0::0001', 'not-an-ip', '10.0.7.1', '::ffff:10.0.7.2'], [port('HTTP', 80)]);
    store.upsertService(svc);
    const e = store.entry('ns', 'web');
    assert.deepEqual(e?.service?.clusterIPs, ['fd00::1', '10.0.7.1', '10.0.7.2']);
    assert.deepEqual(answer(store, '_http._tcp.web.ns.svc.cluster.local.', RRType.SRV), ['NOERROR', '_http._tcp.web.ns.svc.cluster.local. 5 IN SRV 0 33 80 web.ns.svc.cluster.local.']);
    store.deleteService('Ns', 'WEB');
    assert.equal(store.entry('ns', 'web'), undefined);
  });
});
