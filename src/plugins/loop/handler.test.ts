import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { emptyHeader, replyTo, type Message } from '../../dns/message.js';
import type { Handler } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { Loop } from './handler.js';

const req = (name: string, type: number, remoteAddress = '::ffff:127.0.0.1'): Request => {
  const msg: Message = { ...emptyHeader(1), questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [] };
  return new Request(msg, { transport: 'udp', remoteAddress, remotePort: 40000, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' });
};
const writer = (): ResponseWriter => ({ written: false, sentBytes: 0, writeMsg() {}, writeWire() {} });

describe('loop handler', () => {
  const setup = (zone = 'example.org.') => {
    const fired: string[] = [];
    let passed = 0;
    const next: Handler = { name: 'next', serveDNS: async (r, w) => { passed++; w.writeMsg(replyTo(r.msg)); return Rcode.NOERROR; } };
    const l = new Loop({ zone, qname: zone === "." ? "1.2." : `1.2.${zone}`, onLoop: (m) => fired.push(m) });
    l.address = ':1053';
    return { l, h: l.handler(next), fired, passed: () => passed };
  };

  it('fires on the third sighting of the probe, once, with CoreDNS\'s message', async () => {
    const { h, fired, passed } = setup();
    for (let i = 0; i < 2; i++) assert.equal(await h.serveDNS(req('1.2.Example.ORG.', RRType.HINFO), writer()), Rcode.NOERROR);
    assert.deepEqual(fired, []);
    assert.equal(await h.serveDNS(req('1.2.example.org.', RRType.HINFO), writer()), Rcode.SERVFAIL);
    assert.equal(await h.serveDNS(req('1.2.example.org.', RRType.HINFO), writer()), Rcode.SERVFAIL);
    assert.deepEqual(fired, ['Loop (127.0.0.1:40000 -> :1053) detected for zone "example.org.", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 1.2.example.org."']);
    assert.equal(passed(), 2, 'a detected loop is not sent round again');
  });

  it('counts only the probe: other names, types and zones pass; a reset or disable clears it', async () => {
    const { l, h, fired } = setup();
    for (let i = 0; i < 5; i++) {
      await h.serveDNS(req('1.3.example.org.', RRType.HINFO), writer());
      await h.serveDNS(req('1.2.example.org.', RRType.A), writer());
      await h.serveDNS(req('1.2.example.com.', RRType.HINFO), writer());
    }
    await h.serveDNS(req('1.2.example.org.', RRType.HINFO), writer());
    await h.serveDNS(req('1.2.example.org.', RRType.HINFO), writer());
    assert.equal(l.count, 2);
    l.reset();
    await h.serveDNS(req('1.2.example.org.', RRType.HINFO), writer());
    assert.equal(l.count, 1);
    l.disable();
    for (let i = 0; i < 5; i++) await h.serveDNS(req('1.2.example.org.', RRType.HINFO), writer());
    assert.equal(l.count, 1);
    assert.deepEqual(fired, []);
  });

  it('shows an IPv6 client in brackets', async () => {
    const { h, fired } = setup('.');
    for (let i = 0; i < 3; i++) await h.serveDNS(req('1.2.', RRType.HINFO, '::1'), writer());
    assert.match(fired[0]!, /^Loop \(\[::1\]:40000 -> :1053\) detected for zone "\."/);
  });
});
