import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCorefile } from '../../corefile/parser.js';
import { RRClass, RRType, Rcode } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { emptyHeader, type Message } from '../../dns/message.js';
import { RecordStore } from '../../kubernetes/record-store.js';
import { clusterIpService } from '../../kubernetes/testing.js';
import { fakeProcessServices } from '../../plugin/testing.js';
import { Request } from '../../server/request.js';
import { CapturingWriter } from '../../server/testing.js';
import { parseKubernetesConfig } from './config.js';
import { KubernetesHandler } from './handler.js';

const origin = { transport: 'udp' as const, remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' };

function handler(): { h: KubernetesHandler; store: RecordStore } {
  const block = parseCorefile('.:53 {\n    kubernetes cluster.local\n}\n', 'Corefile').blocks[0]!;
  const cfg = parseKubernetesConfig(block.directives[0]!, block.addresses, '/etc/coredns');
  const store = new RecordStore();
  store.upsertNamespace({ name: 'ns' });
  store.upsertService(clusterIpService('ns', 'web', ['10.0.0.1']));
  const source = { store, synced: () => true, whenSynced: async () => undefined };
  return { h: new KubernetesHandler(cfg, source, fakeProcessServices(), 53, []), store };
}

function ask(h: KubernetesHandler, name: string, qtype: number = RRType.A): Message {
  const q: Message = { ...emptyHeader(7), rd: true, questions: [{ name, type: qtype, class: RRClass.IN }], answers: [], authorities: [], additionals: [] };
  const w = new CapturingWriter();
  const rcode = h.serve(undefined, new Request(q, origin), w);
  assert.equal(typeof rcode, 'number');
  return w.msg ?? decodeMessage(w.wire!);
}

test('an answer is memoized on its name\'s second miss, and served from the memo afterwards', () => {
  const { h, store } = handler();
  const web = 'web.ns.svc.cluster.local.';
  const addresses = (): string[] => ask(h, web).answers.map((r) => ('address' in r ? r.address : ''));
  assert.deepEqual(addresses(), ['10.0.0.1']);
  assert.equal(h.memoized, 0, 'asked once: answered, not stored');
  assert.deepEqual(addresses(), ['10.0.0.1']);
  assert.equal(h.memoized, 1, 'stored on the second ask');
  // The third ask is answered without a lookup: count the store's entry() calls (every lookup of
  // a Service name makes one; a memo hit only checks versions).
  let lookups = 0;
  const entry = store.entry.bind(store);
  store.entry = ((...a: Parameters<typeof entry>) => (lookups++, entry(...a))) as typeof store.entry;
  assert.deepEqual(addresses(), ['10.0.0.1']);
  assert.equal(lookups, 0, 'served from the memo');
  assert.equal(h.memoized, 1, 'reused on the third');
  assert.equal(ask(h, web, RRType.AAAA).rcode, Rcode.NOERROR);
  assert.equal(h.memoized, 1, 'another type is another pair: asked once, not stored');
  assert.ok(lookups > 0, 'and it was looked up: the count above can see a lookup');
  // Stale after a change: the new answer, stored again at once (the name was missed before).
  store.upsertService(clusterIpService('ns', 'web', ['10.0.0.2']));
  assert.deepEqual(addresses(), ['10.0.0.2']);
  assert.equal(h.memoized, 1);
});

test('names asked once (a flood of distinct NXDOMAIN names) are not memoized', () => {
  const { h } = handler();
  for (let i = 0; i < 5000; i++) assert.equal(ask(h, `nosuch-${i}.ns.svc.cluster.local.`).rcode, Rcode.NXDOMAIN);
  // Only the doorkeeper's false "seen" get in: well under 1% this early after a clearing.
  assert.ok(h.memoized < 100, `${h.memoized} of 5000 once-asked names memoized`);
  for (let i = 0; i < 5000; i++) ask(h, `nosuch-${i}.ns.svc.cluster.local.`);
  assert.ok(h.memoized >= 4900, `${h.memoized} memoized after the second sweep`);
});
