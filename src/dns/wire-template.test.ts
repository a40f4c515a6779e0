import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from './decode.js';
import { encodeMessage } from './encode.js';
import { emptyHeader, type Message, type ResourceRecord } from './message.js';
import { parseQuery, type ParsedQuery } from './query-parser.js';
import { instantiate, makeTemplate, type TemplateQuery } from './wire-template.js';

const N = 'web.demo.svc.cluster.local.';
const SOA: ResourceRecord = {
  name: 'cluster.local.', type: 6, class: 1, ttl: 5, mname: 'ns.dns.cluster.local.', rname: 'hostmaster.cluster.local.',
  serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5,
};

function reply(qname: string, qtype: number, parts: Partial<Message>): Message {
  return {
    ...emptyHeader(0), qr: true, aa: true, ra: true,
    questions: [{ name: qname, type: qtype, class: 1 }], answers: [], authorities: [], additionals: [], ...parts,
  };
}

const replies: Message[] = [
  reply(N, 1, { answers: [{ name: N, type: 1, class: 1, ttl: 5, address: '10.0.0.1' }] }),
  reply(N, 1, { answers: Array.from({ length: 10 }, (_, i) => ({ name: N, type: 1, class: 1, ttl: 5, address: `10.0.1.${i}` })) }),
  reply(`_http._tcp.${N}`, 33, {
    answers: [1, 2].map((i) => ({ name: `_http._tcp.${N}`, type: 33, class: 1, ttl: 5, priority: 0, weight: 50, port: 80, target: `pod-${i}.${N}` })),
    additionals: [1, 2].map((i) => ({ name: `pod-${i}.${N}`, type: 1, class: 1, ttl: 5, address: `10.1.0.${i}` })),
  }),
  reply(`nope.${N}`, 1, { rcode: 3, authorities: [SOA] }),
  reply(N, 28, { authorities: [SOA] }),
  reply('alias.demo.svc.cluster.local.', 1, {
    answers: [
      { name: 'alias.demo.svc.cluster.local.', type: 5, class: 1, ttl: 5, target: 'example.com.' },
      { name: 'example.com.', type: 1, class: 1, ttl: 30, address: '93.184.216.34' },
    ],
  }),
  reply('1.0.0.10.in-addr.arpa.', 12, { answers: [{ name: '1.0.0.10.in-addr.arpa.', type: 12, class: 1, ttl: 5, target: N }] }),
  reply('a\\.b.cluster.local.', 16, { answers: [{ name: 'a\\.b.cluster.local.', type: 16, class: 1, ttl: 5, strings: ['x'] }] }),
];

/** A query as a client would send it, parsed by the hot path. */
function query(name: string, qtype: number, opts: { id: number; rd: boolean; cd: boolean; edns?: { do: boolean; cookie?: boolean } }): ParsedQuery {
  const m: Message = {
    ...emptyHeader(opts.id), rd: opts.rd, cd: opts.cd, ad: true,
    questions: [{ name, type: qtype, class: 1 }], answers: [], authorities: [], additionals: [],
  };
  if (opts.edns) {
    m.edns = { udpSize: 4096, version: 0, do: opts.edns.do, options: opts.edns.cookie ? [{ code: 10, data: new Uint8Array(8).fill(7) }] : [] };
  }
  const parsed = parseQuery(encodeMessage(m));
  assert.ok(!('kind' in parsed));
  return parsed;
}

/** What the server would encode for this query without a template: replyTo's EDNS, the client's question. */
function equivalent(r: Message, q: TemplateQuery): Message {
  const e: Message = { ...r, id: q.msg.id, rd: q.msg.rd, cd: q.msg.cd, questions: [{ ...r.questions[0]!, name: q.msg.questions[0]!.name }] };
  if (q.msg.edns) e.edns = { udpSize: 1232, version: 0, do: q.msg.edns.do, options: [] };
  return e;
}

/** Flips the case of every other letter. */
function mixCase(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += i % 2 === 0 ? s[i]!.toUpperCase() : s[i]!;
  return out;
}

test('instantiate gives the bytes encodeMessage gives for the same reply', () => {
  let checked = 0;
  for (const r of replies) {
    const own = makeTemplate(r);
    // Every other reply as a memo keeps it: at an offset inside a shared slab, between other bytes.
    const slab = Buffer.alloc(own.length + 64, 0xa5);
    slab.set(own.wire, 40);
    const t = checked % 36 === 0 ? own : { ...own, wire: slab, at: 40 };
    const q0 = r.questions[0]!;
    for (const name of [q0.name, q0.name.toUpperCase(), mixCase(q0.name)]) {
      for (const edns of [undefined, { do: false }, { do: true, cookie: true }]) {
        for (const [rd, cd] of [[true, false], [false, true]] as const) {
          const q = query(name, q0.type, { id: (checked * 7919) & 0xffff, rd, cd, ...(edns ? { edns } : {}) });
          const got = instantiate(t, q);
          assert.deepEqual(got, encodeMessage(equivalent(r, q)), `${name} ${JSON.stringify(edns)} rd=${rd}`);
          checked++;
        }
      }
    }
  }
  assert.equal(checked, replies.length * 18);
});

test('the client sees its own spelling and its own flags', () => {
  const t = makeTemplate(replies[0]!);
  const q = query('WEB.demo.SVC.cluster.local.', 1, { id: 0xbeef, rd: true, cd: true, edns: { do: true } });
  const d = decodeMessage(instantiate(t, q));
  assert.equal(d.id, 0xbeef);
  assert.equal(d.rd, true);
  assert.equal(d.cd, true);
  assert.equal(d.questions[0]!.name, 'WEB.demo.SVC.cluster.local.');
  assert.equal(d.answers[0]!.name, 'WEB.demo.SVC.cluster.local.');
  assert.deepEqual(d.edns, { udpSize: 1232, version: 0, do: true, options: [] });
  // the template itself is not modified
  assert.equal(decodeMessage(t.wire).questions[0]!.name, N);
  assert.equal(decodeMessage(t.wire).edns, undefined);
});

test('a query without wire bytes (a synthetic or rewritten request) gets the name from its message', () => {
  const t = makeTemplate(replies[0]!);
  const msg = { id: 9, rd: true, cd: false, questions: [{ name: 'Web.Demo.svc.cluster.local.', type: 1, class: 1 }] };
  const out = instantiate(t, { msg });
  assert.deepEqual(out, encodeMessage(equivalent(replies[0]!, { msg })));
  // wire bytes whose question is something else are not trusted either
  const other = encodeMessage({ ...emptyHeader(1), questions: [{ name: 'xyz.demo.svc.cluster.local.', type: 1, class: 1 }], answers: [], authorities: [], additionals: [] });
  assert.equal(decodeMessage(instantiate(t, { wire: other, msg })).questions[0]!.name, 'Web.Demo.svc.cluster.local.');
});

test('a template refuses queries and replies it cannot serve', () => {
  const t = makeTemplate(replies[0]!);
  assert.throws(() => instantiate(t, { msg: { id: 1, rd: false, cd: false, questions: [{ name: 'other.', type: 1, class: 1 }] } }), /not the template's/);
  assert.throws(() => instantiate(t, { msg: { id: 1, rd: false, cd: false, questions: [{ name: N, type: 28, class: 1 }] } }), /different type/);
  assert.throws(() => instantiate(t, { msg: { id: 1, rd: false, cd: false, questions: [] } }), /different type/);
  assert.throws(() => makeTemplate(reply('Web.demo.', 1, {})), /not lower-case/);
  assert.throws(() => makeTemplate({ ...reply(N, 1, {}), edns: { udpSize: 1232, version: 0, do: false, options: [] } }), /must not carry EDNS/);
  assert.throws(() => makeTemplate({ ...reply(N, 1, {}), questions: [] }), /exactly one question/);
  assert.throws(() => makeTemplate({ ...reply(N, 1, {}), rcode: 16 }), /extended rcode/);
});
