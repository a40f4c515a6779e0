/**
 * shuffleWire: the byte-level round robin must send exactly what decode → roundRobin → encode
 * sends for the same random draws, and leave every other shape to that path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, replyTo, type Message, type ResourceRecord } from '../../dns/message.js';
import { instantiate, makeTemplate } from '../../dns/wire-template.js';
import { BaseWriter } from '../../server/base-writer.js';
import { Request } from '../../server/request.js';
import { LoadBalanceWriter, shuffleWire } from './handler.js';

const N = 'hl-1.ns-1.svc.cluster.local.';
const a = (name: string, address: string): ResourceRecord => ({ name, type: RRType.A, class: RRClass.IN, ttl: 30, address });
const aaaa = (name: string, address: string): ResourceRecord => ({ name, type: RRType.AAAA, class: RRClass.IN, ttl: 30, address });
const srv = (target: string): ResourceRecord => ({ name: `_http._tcp.${N}`, type: RRType.SRV, class: RRClass.IN, ttl: 30, priority: 0, weight: 10, port: 80, target });
const cname: ResourceRecord = { name: N, type: RRType.CNAME, class: RRClass.IN, ttl: 30, target: 'x.example.' };

/** A seeded 16-bit random source, so both paths draw the same numbers. */
function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 16;
  };
}

function query(name: string, type: number, edns: boolean): Message {
  return {
    ...emptyHeader(0x4242), rd: true, questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
    ...(edns ? { edns: { udpSize: 1232, version: 0, do: false, options: [] } } : {}),
  };
}

function sent(q: Message, write: (w: LoadBalanceWriter) => void, seed: number): Buffer {
  const wire = encodeMessage(q);
  const req = new Request(decodeMessage(wire), { transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 53, server: 'x' }, wire);
  let out: Buffer | undefined;
  write(new LoadBalanceWriter(new BaseWriter(req, (b) => { out = b; }), [], seeded(seed)));
  assert.ok(out);
  return out;
}

const ten = Array.from({ length: 10 }, (_, i) => a(N, `10.128.0.${i + 1}`));
const cases: Array<{ what: string; type: number; sections: Partial<Pick<Message, 'answers' | 'authorities' | 'additionals'>>; onWire: boolean }> = [
  { what: 'headless: 10 A under one name', type: RRType.A, sections: { answers: ten }, onWire: true },
  { what: '3 AAAA', type: RRType.AAAA, sections: { answers: [aaaa(N, '2001:db8::1'), aaaa(N, '2001:db8::2'), aaaa(N, '2001:db8::3')] }, onWire: true },
  { what: 'SRV with 3 additional A under different names', type: RRType.SRV, sections: { answers: [srv(`a.${N}`)], additionals: [a(`a.${N}`, '10.0.0.1'), a(`b.${N}`, '10.0.0.2'), a(`c.${N}`, '10.0.0.3')] }, onWire: false },
  { what: 'SRV with one additional A', type: RRType.SRV, sections: { answers: [srv(N)], additionals: [a(N, '10.0.0.1')] }, onWire: true },
  { what: 'a CNAME before the addresses', type: RRType.A, sections: { answers: [cname, a('x.example.', '10.0.0.1'), a('x.example.', '10.0.0.2')] }, onWire: false },
  { what: 'A and AAAA mixed', type: RRType.A, sections: { answers: [a(N, '10.0.0.1'), aaaa(N, '2001:db8::1')] }, onWire: false },
];

describe('loadbalance: shuffleWire', () => {
  for (const c of cases) {
    for (const edns of [false, true]) {
      it(`${c.what}${edns ? ', EDNS query' : ''}: the same bytes as the decode path, for many draws`, () => {
        const q = query(N, c.type, edns);
        const m = { ...replyTo(query(N, c.type, false)), aa: true, ...c.sections } as Message;
        const wire = instantiate(makeTemplate({ ...m, rd: false }), { msg: q, wire: encodeMessage(q) });
        assert.equal(shuffleWire(wire, seeded(1)) !== undefined, c.onWire, 'shuffled on the wire or not');
        const seen = new Set<string>();
        for (let seed = 1; seed <= 40; seed++) {
          const fast = sent(q, (w) => w.writeWire(wire), seed);
          const slow = sent(q, (w) => w.writeMsg(decodeMessage(wire)), seed);
          assert.equal(fast.toString('hex'), slow.toString('hex'), `seed ${seed}`);
          seen.add(fast.toString('hex'));
        }
        if (c.onWire && c.sections.answers!.length > 2) assert.ok(seen.size > 5, 'the order changes with the draws');
      });
    }
  }

  it('leaves error replies, transfers and malformed input alone', () => {
    const q = query(N, RRType.A, false);
    const nx = encodeMessage({ ...replyTo(q, Rcode.NXDOMAIN), answers: ten });
    assert.equal(shuffleWire(nx, seeded(1)), undefined);
    const axfr = encodeMessage({ ...replyTo(query(N, RRType.AXFR, false)), answers: ten });
    assert.equal(shuffleWire(axfr, seeded(1)), undefined);
    const ok = encodeMessage({ ...replyTo(q), answers: ten });
    assert.equal(shuffleWire(ok.subarray(0, ok.length - 2), seeded(1)), undefined, 'truncated');
    assert.equal(shuffleWire(Buffer.concat([ok, Buffer.alloc(1)]), seeded(1)), undefined, 'trailing byte');
  });
});
