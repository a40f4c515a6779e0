import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, type Message, type ResourceRecord } from '../../dns/message.js';
import { isTrimmable, MinimalWriter } from './handler.js';
import { CapturingWriter as Capture } from '../../server/testing.js';

const a: ResourceRecord = { name: 'www.example.org.', class: RRClass.IN, ttl: 60, type: RRType.A, address: '192.0.2.1' };
const ns: ResourceRecord = { name: 'example.org.', class: RRClass.IN, ttl: 60, type: RRType.NS, target: 'ns1.example.org.' };
const glue: ResourceRecord = { name: 'ns1.example.org.', class: RRClass.IN, ttl: 60, type: RRType.A, address: '192.0.2.53' };
const soa: ResourceRecord = {
  name: 'example.org.', class: RRClass.IN, ttl: 60, type: RRType.SOA, mname: 'ns1.example.org.', rname: 'h.example.org.',
  serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5,
};

function msg(rcode: number, answers: ResourceRecord[], authorities: ResourceRecord[], additionals: ResourceRecord[], qtype: number = RRType.A): Message {
  return {
    ...emptyHeader(7), qr: true, rcode, questions: [{ name: 'www.example.org.', type: qtype, class: RRClass.IN }],
    answers, authorities, additionals, edns: { udpSize: 1232, version: 0, do: false, options: [] },
  };
}


describe('minimal', () => {
  const cases: { name: string; m: Message; trim: boolean }[] = [
    { name: 'positive answer', m: msg(Rcode.NOERROR, [a], [ns], [glue]), trim: true },
    { name: 'NODATA (SOA in authority)', m: msg(Rcode.NOERROR, [], [soa], []), trim: false },
    { name: 'NXDOMAIN', m: msg(Rcode.NXDOMAIN, [], [soa], []), trim: false },
    { name: 'referral (NS in authority)', m: msg(Rcode.NOERROR, [], [ns], [glue]), trim: false },
    { name: 'SERVFAIL', m: msg(Rcode.SERVFAIL, [], [], []), trim: false },
    { name: 'NXDOMAIN with a CNAME answer', m: msg(Rcode.NXDOMAIN, [a], [soa], []), trim: false },
    { name: 'NOERROR without answer, SOA or NS (whoami)', m: msg(Rcode.NOERROR, [], [], [glue]), trim: true },
    { name: 'AXFR', m: msg(Rcode.NOERROR, [a], [ns], [], RRType.AXFR), trim: false },
  ];
  for (const c of cases) {
    it(`${c.trim ? 'trims' : 'keeps'} ${c.name}`, () => {
      assert.equal(isTrimmable(c.m), c.trim);
      for (const asWire of [false, true]) {
        const out = new Capture();
        const w = new MinimalWriter(out);
        if (asWire) w.writeWire(encodeMessage(c.m));
        else w.writeMsg(structuredClone(c.m));
        assert.equal(w.written, true);
        const got = out.msg ?? decodeMessage(out.wire!);
        assert.deepEqual(got.answers.length, c.m.answers.length);
        assert.equal(got.authorities.length, c.trim ? 0 : c.m.authorities.length, asWire ? 'wire' : 'msg');
        assert.equal(got.additionals.length, c.trim ? 0 : c.m.additionals.length, asWire ? 'wire' : 'msg');
        assert.ok(got.edns, 'OPT kept');
      }
    });
  }

  it('passes a wire reply with empty authority and additional sections through untouched', () => {
    const m = msg(Rcode.NOERROR, [a], [], []);
    delete m.edns;
    const wire = encodeMessage(m);
    const out = new Capture();
    new MinimalWriter(out).writeWire(wire);
    assert.equal(out.wire, wire);
  });
});
