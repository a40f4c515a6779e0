/**
 * Setup as a table of Corefile snippets: whether the block loads (setup, then start() when every
 * plugin of the block is set up, as the server does) and the error text when it does not; then
 * what the parsed zones and resolv.conf do to queries.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { emptyHeader, replyTo, type Message } from '../../dns/message.js';
import { buildChain } from '../../plugin/chain.js';
import { pluginRank } from '../../plugin/order.js';
import type { Handler, PluginInstance, SetupContext } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { kubernetes } from '../kubernetes/setup.js';
import { autopath } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'autopath-setup-'));
fs.writeFileSync(path.join(root, 'resolv.conf'), 'nameserver 10.0.0.1\nsearch example.org example.com com\noptions ndots:5\n');
fs.writeFileSync(path.join(root, 'empty.conf'), 'nameserver 10.0.0.1\n');

/** Sets up autopath (and kubernetes when the block has it) in plugin order and starts autopath. */
async function load(body: string): Promise<PluginInstance> {
  const text = `example.org example.net {\n${body}\n}\n`;
  const block = parseCorefile(text, 'Corefile', { env: {} }).blocks[0]!;
  const siblings = new Map<string, PluginInstance>();
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: text, addresses: block.addresses, port: 53, root, logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings,
  };
  const plugins = new Map([['autopath', autopath], ['kubernetes', kubernetes]]);
  const names = [...new Set(block.directives.map((d) => d.name))].sort((a, b) => pluginRank(a)! - pluginRank(b)!);
  for (const name of names) {
    siblings.set(name, await plugins.get(name)!.setup(block.directives.filter((d) => d.name === name), ctx));
  }
  const ap = siblings.get('autopath')!;
  await ap.start?.();
  return ap;
}

interface Case {
  body: string;
  /** Expected error text (a substring); undefined when the block must load. */
  err?: string;
}

const cases: Case[] = [
  { body: 'autopath @kubernetes\nkubernetes cluster.local {\n    pods verified\n}' },
  { body: 'autopath example.org @kubernetes\nkubernetes cluster.local {\n    pods verified\n}' },
  { body: 'autopath 10.0.0.0/8 @kubernetes\nkubernetes cluster.local {\n    pods verified\n}' },
  { body: 'autopath resolv.conf' },
  { body: `autopath ${path.join(root, 'resolv.conf')}` },
  { body: 'autopath example.org resolv.conf' },
  { body: 'autopath empty.conf' },
  { body: 'autopath @kubernetes\nkubernetes cluster.local', err: "Corefile:2 - plugin/autopath: @kubernetes needs 'pods verified' in the kubernetes plugin (the client's Pod is found by its IP), not 'pods disabled'" },
  { body: 'autopath @kubernetes\nkubernetes cluster.local {\n    pods insecure\n}', err: "not 'pods insecure'" },
  { body: 'autopath @kubernetes', err: 'Corefile:2 - plugin/autopath: @kubernetes needs the kubernetes plugin in the same server block' },
  { body: 'autopath @file', err: 'Corefile:2 - plugin/autopath: file does not implement the AutoPather interface' },
  { body: 'autopath', err: 'Corefile:2 - plugin/autopath: no resolv-conf specified' },
  { body: 'autopath kubernetes', err: 'plugin/autopath: failed to parse "kubernetes": ENOENT' },
  { body: 'autopath ""', err: 'plugin/autopath: failed to parse "": EISDIR' },
  { body: 'autopath 10.0.0.0/33 @kubernetes', err: "plugin/autopath: invalid CIDR '10.0.0.0/33'" },
  { body: 'autopath resolv.conf {\n    foo\n}', err: "plugin/autopath: 'autopath' does not take a block" },
  { body: 'autopath resolv.conf\nautopath resolv.conf', err: 'Corefile:3 - plugin/autopath: this plugin can only be used once per Server Block' },
];

describe('autopath setup', () => {
  for (const c of cases) {
    it(`${JSON.stringify(c.body)} ${c.err ? 'fails' : 'loads'}`, async () => {
      if (c.err === undefined) {
        const ap = await load(c.body);
        assert.ok(ap.handler, 'a handler in the chain');
        return;
      }
      await assert.rejects(load(c.body), (err: Error) => {
        assert.ok(err.message.includes(c.err!), `error "${err.message}" should contain "${c.err}"`);
        return true;
      });
    });
  }
});

/** Runs a query through autopath in front of a handler that answers b.com. and a.example.com. */
async function serve(ap: PluginInstance, name: string): Promise<{ asked: string[]; reply: Message | undefined }> {
  const asked: string[] = [];
  const next: Handler = {
    name: 'next',
    async serveDNS(req, w) {
      asked.push(req.name);
      const known = req.name === 'b.com.' || req.name === 'a.example.com.';
      const m = replyTo(req.msg, known ? Rcode.NOERROR : Rcode.NXDOMAIN);
      if (known) m.answers = [{ name: req.qname, class: RRClass.IN, ttl: 60, type: RRType.A, address: '192.0.2.1' }];
      w.writeMsg(m);
      return m.rcode;
    },
  };
  const chain = buildChain([ap.handler!, () => next])!;
  const msg: Message = { ...emptyHeader(1), questions: [{ name, type: RRType.A, class: RRClass.IN }], answers: [], authorities: [], additionals: [] };
  let reply: Message | undefined;
  const w: ResponseWriter = { written: false, sentBytes: 0, writeMsg: (m) => { reply = m; }, writeWire: () => assert.fail('no wire') };
  await chain.serveDNS(new Request(msg, { transport: 'udp', remoteAddress: '192.0.2.7', remotePort: 1, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' }), w);
  return { asked, reply };
}

describe('autopath RESOLV-CONF and ZONE', () => {
  it('walks the file\'s search domains, for any client', async () => {
    const { asked, reply } = await serve(await load('autopath resolv.conf'), 'b.example.org.');
    assert.deepEqual(asked, ['b.example.org.', 'b.example.com.', 'b.com.']);
    assert.equal(reply?.answers[0]?.type, RRType.CNAME);
  });

  it('only in its zones (the server block\'s when none are given)', async () => {
    const inZone = await serve(await load('autopath example.org resolv.conf'), 'b.example.org.');
    assert.deepEqual(inZone.asked, ['b.example.org.', 'b.example.com.', 'b.com.']);
    const outside = await serve(await load('autopath example.net resolv.conf'), 'b.example.org.');
    assert.deepEqual(outside.asked, ['b.example.org.']);
  });

  it('does nothing with a file that has no search domains', async () => {
    const { asked } = await serve(await load('autopath empty.conf'), 'b.example.org.');
    assert.deepEqual(asked, ['b.example.org.']);
  });

  it('@kubernetes passes queries on until the kubernetes plugin has started', async () => {
    const ap = await load('autopath @kubernetes\nkubernetes example.org {\n    pods verified\n}');
    const { asked } = await serve(ap, 'b.example.org.');
    assert.deepEqual(asked, ['b.example.org.']);
  });
});
