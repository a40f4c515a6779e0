import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import { RRClass, RRType } from '../../dns/constants.js';
import { emptyHeader, type Message } from '../../dns/message.js';
import { ConfigError } from '../../errors.js';
import type { PluginInstance, PluginSetup, SetupContext } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import type { ResponseWriter } from '../../server/response-writer.js';
import { VERSION } from '../../version.js';
import { any } from '../any/setup.js';
import { minimal } from '../minimal/setup.js';
import { nsid } from '../nsid/setup.js';
import { chaos, DEFAULT_AUTHORS } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';

/** Setup of the small operator plugins (chaos, nsid, any, minimal) from Corefile snippets. */
function setup(plugin: PluginSetup, corefile: string): PluginInstance {
  const c = parseCorefile(corefile, 'Corefile');
  const block = c.blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: corefile, addresses: block.addresses, port: 53, root: '/', logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings: new Map(),
  };
  const inst = plugin.setup(block.directives.filter((d) => d.name === plugin.name), ctx);
  assert.ok(!(inst instanceof Promise));
  return inst;
}

const origin = { transport: 'udp' as const, remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' };

async function chaosTxt(inst: PluginInstance, name: string): Promise<string[]> {
  let out: Message | undefined;
  const w: ResponseWriter = { get written() { return out !== undefined; }, get sentBytes() { return 0; }, writeMsg(m) { out = m; }, writeWire() {} };
  const q: Message = { ...emptyHeader(1), questions: [{ name, type: RRType.TXT, class: RRClass.CH }], answers: [], authorities: [], additionals: [] };
  await inst.handler!(undefined).serveDNS(new Request(q, origin), w);
  return (out?.answers ?? []).map((r) => ('strings' in r ? r.strings.join('') : '')).sort();
}

describe('chaos setup', () => {
  it('defaults the version and the authors', async () => {
    const inst = setup(chaos, '. {\n  chaos\n}\n');
    assert.deepEqual(await chaosTxt(inst, 'version.bind.'), [`clusterdns-${VERSION}`]);
    assert.deepEqual(await chaosTxt(inst, 'authors.bind.'), [...DEFAULT_AUTHORS].sort());
    assert.deepEqual(await chaosTxt(inst, 'id.server.'), [os.hostname()]);
  });

  it('takes a version, and authors once each; cuts values to 255 bytes', async () => {
    const long = 'x'.repeat(300);
    const inst = setup(chaos, `. {\n  chaos v1 bob alice bob ${long}\n}\n`);
    assert.deepEqual(await chaosTxt(inst, 'version.server.'), ['v1']);
    assert.deepEqual(await chaosTxt(inst, 'authors.bind.'), ['alice', 'bob', 'x'.repeat(255)]);
    const v = setup(chaos, `. {\n  chaos ${long}\n}\n`);
    assert.deepEqual(await chaosTxt(v, 'version.bind.'), ['x'.repeat(255)]);
  });
});

describe('operator plugin setup errors', () => {
  const rejected: { plugin: PluginSetup; corefile: string; line: number; match: RegExp }[] = [
    { plugin: chaos, corefile: '. {\n  chaos v1 {\n    foo\n  }\n}\n', line: 2, match: /plugin\/chaos: 'chaos' does not take a block/ },
    { plugin: chaos, corefile: '. {\n  chaos\n  chaos v2\n}\n', line: 3, match: /plugin\/chaos: this plugin can only be used once/ },
    { plugin: nsid, corefile: '. {\n  nsid a\n  nsid b\n}\n', line: 3, match: /plugin\/nsid: this plugin can only be used once/ },
    { plugin: nsid, corefile: '. {\n  nsid {\n    x\n  }\n}\n', line: 2, match: /does not take a block/ },
    { plugin: any, corefile: '. {\n  any all\n}\n', line: 2, match: /plugin\/any: 'any' takes no arguments/ },
    { plugin: any, corefile: '. {\n  any {\n    x\n  }\n}\n', line: 2, match: /does not take a block/ },
    { plugin: minimal, corefile: '. {\n  minimal yes\n}\n', line: 2, match: /plugin\/minimal: 'minimal' takes no arguments/ },
    { plugin: minimal, corefile: '. {\n  minimal\n  minimal\n}\n', line: 3, match: /only be used once/ },
  ];
  for (const c of rejected) {
    it(`${c.plugin.name}: ${c.match.source}`, () => {
      try {
        setup(c.plugin, c.corefile);
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.line, c.line, err.message);
        assert.match(err.message, c.match);
        return;
      }
      assert.fail('expected a ConfigError');
    });
  }

  it('accepts nsid with words, any and minimal bare', () => {
    assert.ok(setup(nsid, '. {\n  nsid Use The Force\n}\n').handler);
    assert.ok(setup(any, '. {\n  any\n}\n').handler);
    assert.ok(setup(minimal, '. {\n  minimal\n}\n').handler);
  });
});
