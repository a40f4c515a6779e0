import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RRClass, RRType } from '../../dns/constants.js';
import { decodeMessage } from '../../dns/decode.js';
import { encodeMessage } from '../../dns/encode.js';
import { emptyHeader, replyTo, type Message } from '../../dns/message.js';
import type { Handler } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import { EDNS_NSID, nsidHandler } from './handler.js';
import { CapturingWriter as Capture } from '../../server/testing.js';


const origin = { transport: 'udp' as const, remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' };

function request(options: { code: number; data: Uint8Array }[] | undefined): Request {
  const m: Message = {
    ...emptyHeader(99), questions: [{ name: 'example.org.', type: RRType.A, class: RRClass.IN }], answers: [], authorities: [], additionals: [],
    ...(options ? { edns: { udpSize: 1232, version: 0, do: false, options } } : {}),
  };
  return new Request(m, origin);
}

/** A next plugin that answers as a Message or as pre-encoded wire, with an option of its own. */
function answering(asWire: boolean): Handler {
  return {
    name: 'test',
    async serveDNS(req, w) {
      const m = replyTo(req.msg);
      m.answers.push({ name: 'example.org.', class: RRClass.IN, ttl: 5, type: RRType.A, address: '192.0.2.9' });
      if (m.edns) m.edns.options.push({ code: 10, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }, { code: EDNS_NSID, data: Buffer.from('stale') });
      if (asWire) w.writeWire(encodeMessage(m));
      else w.writeMsg(m);
      return 0;
    },
  };
}

describe('nsid', () => {
  const data = Buffer.from('node-a');
  for (const asWire of [false, true]) {
    it(`sets NSID on a ${asWire ? 'wire' : 'message'} reply when asked, replacing one already there and keeping other options`, async () => {
      const out = new Capture();
      await nsidHandler(data, answering(asWire)).serveDNS(request([{ code: EDNS_NSID, data: new Uint8Array(0) }]), out);
      assert.ok(out.msg, 'written as a message');
      const opts = out.msg.edns!.options;
      assert.deepEqual(opts.filter((o) => o.code === EDNS_NSID).map((o) => Buffer.from(o.data).toString()), ['node-a']);
      assert.ok(opts.some((o) => o.code === 10), 'cookie kept');
      assert.equal(out.msg.answers.length, 1);
    });

    it(`leaves a ${asWire ? 'wire' : 'message'} reply alone when the query did not ask`, async () => {
      const out = new Capture();
      await nsidHandler(data, answering(asWire)).serveDNS(request([]), out);
      const m = out.msg ?? decodeMessage(out.wire!);
      assert.deepEqual(m.edns!.options.filter((o) => o.code === EDNS_NSID).map((o) => Buffer.from(o.data).toString()), ['stale']);
    });
  }

  it('does nothing for queries without EDNS', async () => {
    const out = new Capture();
    await nsidHandler(data, answering(false)).serveDNS(request(undefined), out);
    assert.equal(out.msg!.edns, undefined);
  });
});
