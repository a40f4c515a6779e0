import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Dispatcher, type ZoneRoute } from './dispatcher.js';

const logger = pino({ level: 'silent' });

/** The label walk route() replaced: every suffix after a dot, longest first, then ".". */
function walk(zones: Map<string, ZoneRoute>, name: string): ZoneRoute | undefined {
  let n = name;
  for (;;) {
    const r = zones.get(n);
    if (r) return r;
    if (n === '.') return undefined;
    const dot = n.indexOf('.');
    n = dot === n.length - 1 ? '.' : n.slice(dot + 1);
  }
}

describe('Dispatcher.route', () => {
  const zoneSets = [
    ['.'],
    ['cluster.local.'],
    ['.', 'cluster.local.', 'in-addr.arpa.', 'ip6.arpa.'],
    ['example.org.', 'a.example.org.', 'b.a.example.org.', 'org.'],
    ['xample.org.', 'example.org.'],
  ];
  const names = [
    '.', 'org.', 'example.org.', 'xample.org.', 'ample.org.', 'a.example.org.', 'ba.example.org.', 'b.a.example.org.', 'x.b.a.example.org.',
    'www.xample.org.', 'wexample.org.', 'svc-1.ns-1.svc.cluster.local.', 'cluster.local.', 'xcluster.local.', 'local.', '10.in-addr.arpa.',
    'a\\.example.org.', 'a..example.org.', 'ip6.arpa.', 'x.ip6.arpa.',
  ];
  for (const zs of zoneSets) {
    it(`finds the longest zone suffix as the label walk does, zones ${zs.join(' ')}`, () => {
      const routes = zs.map((zone) => ({ zone, chain: undefined }));
      const d = new Dispatcher(routes, logger);
      const byZone = new Map(routes.map((r) => [r.zone, r]));
      for (const name of names) assert.equal(d.route(name)?.zone, walk(byZone, name)?.zone, name);
    });
  }
});

describe('Dispatcher.handle', () => {
  it('never rejects: a failure outside the chain is logged and the promise resolves', async () => {
    const lines: string[] = [];
    const d = new Dispatcher([{ zone: '.', chain: undefined }], pino({ level: 'error' }, { write: (s: string) => lines.push(s) }));
    const query = Buffer.from('12340100000100000000000003777777076578616d706c6503636f6d0000010001', 'hex');
    await d.handle(query, { transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' }, () => {
      throw new Error('socket gone');
    });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /udp query failed/);
  });
});
