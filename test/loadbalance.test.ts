/** loadbalance end to end: the order of address records changes across queries, cached or not. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../src/dns/constants.js';
import type { Message } from '../src/dns/message.js';
import { query } from './support/dns-client.js';
import { freePort } from './support/ports.js';
import { startServer, type ServerProcess } from './support/server-process.js';

const addrs = (m: Message): string[] => m.answers.map((r) => ('address' in r ? r.address : '?'));

describe('loadbalance', () => {
  let srv: ServerProcess;
  let port: number;
  const v4 = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'];
  const v6 = ['2001:db8::1', '2001:db8::2', '2001:db8::3'];

  before(async () => {
    port = await freePort();
    srv = await startServer(
      `example.org {
    loadbalance round_robin
    cache 30
    hosts hosts.txt
}
plain.test {
    hosts hosts.txt
}
`,
      {
        args: ['-dns.port', String(port)],
        files: { 'hosts.txt': [...v4.map((a) => `${a} www.example.org www.plain.test`), ...v6.map((a) => `${a} www.example.org`)].join('\n') + '\n' },
      },
    );
  });
  after(async () => {
    await srv.stop();
  });

  for (const [label, type, expected, tcp] of [
    ['A over UDP', RRType.A, v4, false],
    ['AAAA over TCP', RRType.AAAA, v6, true],
  ] as const) {
    it(`changes the order of ${label} answers across queries (also when served from the cache)`, async () => {
      const orders = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const r = await query(port, 'www.example.org.', type, { tcp });
        assert.deepEqual([...addrs(r)].sort(), [...expected].sort(), 'same records every time');
        orders.add(addrs(r).join(','));
      }
      assert.ok(orders.size >= 3, `orders seen: ${[...orders].join(' | ')}`);
    });
  }

  it('leaves the order alone in a server block without loadbalance', async () => {
    const orders = new Set<string>();
    for (let i = 0; i < 10; i++) orders.add(addrs(await query(port, 'www.plain.test.', RRType.A)).join(','));
    assert.deepEqual([...orders], [v4.join(',')]);
  });
});
