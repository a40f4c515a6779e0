import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import { Rcode, RRClass, RRType } from '../../dns/constants.js';
import { emptyHeader, type Message } from '../../dns/message.js';
import { ConfigError, ErrorCodes } from '../../errors.js';
import type { Handler, PluginInstance, SetupContext } from '../../plugin/types.js';
import { Request } from '../../server/request.js';
import { ZoneSource } from './handler.js';
import { file } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';
import { CapturingWriter as Capture } from '../../server/testing.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterdns-file-setup-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Relative names only: the file serves whichever origin it is loaded for. */
const ZONE = '$TTL 60\n@ IN SOA ns1 hostmaster 7 7200 3600 1209600 300\n  IN NS ns1\nns1 IN A 192.0.2.53\nwww IN A 192.0.2.10\n';
fs.writeFileSync(path.join(dir, 'db.zone'), ZONE);
fs.writeFileSync(path.join(dir, 'db.broken'), '$TTL 60\n@ IN SOA ns1 hostmaster 7 7200 3600 1209600 300\nwww IN A nope\n');

function setup(corefile: string): PluginInstance {
  const c = parseCorefile(corefile, 'Corefile');
  const block = c.blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: corefile, addresses: block.addresses, port: 53, root: dir, logger: pino({ level: 'silent' }),
    process: fakeProcessServices({
      resolve: async (_port, name, type) => ({ ...emptyHeader(0), qr: true, rcode: Rcode.REFUSED, questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] }),
    }),
    siblings: new Map(),
  };
  const inst = file.setup(block.directives.filter((d) => d.name === 'file'), ctx);
  assert.ok(!(inst instanceof Promise));
  return inst;
}


const next: Handler = { name: 'next', serveDNS: async () => 42 };
const origin = { transport: 'udp' as const, remoteAddress: '127.0.0.1', remotePort: 5353, localAddress: '127.0.0.1', localPort: 53, server: 'dns://:53' };

async function ask(inst: PluginInstance, name: string, type: number = RRType.A): Promise<{ rcode: number; msg: Message | undefined }> {
  const q: Message = { ...emptyHeader(1), questions: [{ name, type, class: RRClass.IN }], answers: [], authorities: [], additionals: [] };
  const w = new Capture();
  const rcode = await inst.handler!(next).serveDNS(new Request(q, origin), w);
  return { rcode, msg: w.msg };
}

describe('file setup', () => {
  it('serves the server block zones by default, with a path relative to the Corefile directory', async () => {
    const inst = setup('example.org {\n  file db.zone\n}\n');
    const r = await ask(inst, 'www.example.org.');
    assert.equal(r.msg?.answers.length, 1);
    assert.equal((await ask(inst, 'other.test.')).rcode, 42, 'outside the zone: next plugin');
  });

  it('serves the zones it names from one file, each with its own origin', async () => {
    const inst = setup('. {\n  file db.zone example.org Example.NET\n}\n');
    for (const z of ['example.org.', 'example.net.']) {
      const r = await ask(inst, `www.${z}`);
      assert.equal(r.msg?.answers[0]?.name, `www.${z}`);
    }
    assert.equal((await ask(inst, 'www.example.com.')).rcode, 42);
  });

  it('falls through on NXDOMAIN with fallthrough', async () => {
    const inst = setup('example.org {\n  file db.zone {\n    fallthrough\n  }\n}\n');
    assert.equal((await ask(inst, 'nothere.example.org.')).rcode, 42);
    assert.equal((await ask(inst, 'www.example.org.', RRType.AAAA)).msg?.rcode, Rcode.NOERROR);
  });

  it('accepts several file directives, and SERVFAILs a zone whose file is missing until it appears', async () => {
    const inst = setup(`. {\n  file db.zone example.org\n  file db.later example.net {\n    reload 1s\n  }\n}\n`);
    assert.equal((await ask(inst, 'www.example.org.')).msg?.answers.length, 1);
    assert.equal((await ask(inst, 'www.example.net.')).rcode, Rcode.SERVFAIL);
  });

  const rejected: { name: string; corefile: string; line: number; match: RegExp; code?: string }[] = [
    { name: 'no file', corefile: 'example.org {\n  file\n}\n', line: 2, match: /plugin\/file: 'file' takes at least 1 argument/ },
    { name: 'missing file without reload', corefile: 'example.org {\n  file nothere.db {\n    reload 0\n  }\n}\n', line: 2, match: /plugin\/file: cannot read .*nothere\.db/ },
    { name: 'bad reload', corefile: 'example.org {\n  file db.zone {\n    reload often\n  }\n}\n', line: 3, match: /invalid duration 'often'/ },
    { name: 'negative reload', corefile: 'example.org {\n  file db.zone {\n    reload -1s\n  }\n}\n', line: 3, match: /must not be negative/ },
    { name: 'reload without value', corefile: 'example.org {\n  file db.zone {\n    reload\n  }\n}\n', line: 3, match: /'reload' takes exactly 1 argument/ },
    { name: 'reload_by_mtime with a value', corefile: 'example.org {\n  file db.zone {\n    reload_by_mtime yes\n  }\n}\n', line: 3, match: /'reload_by_mtime' takes no arguments/ },
    { name: 'unknown property', corefile: 'example.org {\n  file db.zone {\n    transfer to *\n  }\n}\n', line: 3, match: /unknown property 'transfer'/ },
    { name: 'one zone twice', corefile: '. {\n  file db.zone example.org\n  file db.zone example.org\n}\n', line: 3, match: /example\.org\. is already served/ },
  ];
  for (const c of rejected) {
    it(`rejects ${c.name}`, () => {
      try {
        setup(c.corefile);
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.file, 'Corefile');
        assert.equal(err.line, c.line, err.message);
        assert.match(err.message, c.match);
        return;
      }
      assert.fail('expected a ConfigError');
    });
  }

  it('fails on a broken zone file with the zone file and line', () => {
    try {
      setup('example.org {\n  file db.broken\n}\n');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, ErrorCodes.ZONEFILE_SYNTAX);
      assert.equal(err.file, path.join(dir, 'db.broken'));
      assert.equal(err.line, 3);
    }
  });

  it('starts and stops its reload timers', async () => {
    const inst = setup('example.org {\n  file db.zone {\n    reload 10ms\n  }\n}\n');
    await inst.start!();
    await inst.stop!();
  });
});

describe('file reload', () => {
  const logger = pino({ level: 'silent' });
  const zone = (serial: number, addr: string): string => `$TTL 60\n@ IN SOA ns1 hostmaster ${serial} 7200 3600 1209600 300\nwww IN A ${addr}\n`;
  const www = async (s: ZoneSource): Promise<string> => {
    const r = await s.zone!.lookup('www.example.org.', RRType.A);
    const a = r.answer[0];
    return a && 'address' in a ? a.address : '';
  };
  /** Rewrites the file with a different mtime (some filesystems keep whole-second mtimes). */
  const write = (f: string, text: string, tick: number): void => {
    fs.writeFileSync(f, text);
    const t = new Date(Date.UTC(2024, 0, 1, 0, 0, tick));
    fs.utimesSync(f, t, t);
  };

  it('swaps in a changed file with a new serial, not one with the same serial, and keeps the zone on errors', async () => {
    const f = path.join(dir, 'db.reload');
    write(f, zone(1, '192.0.2.1'), 1);
    const s = new ZoneSource({ origin: 'example.org.', file: f, reloadMs: 1000, byMtime: false }, logger);
    s.loadOrThrow();
    assert.equal(await www(s), '192.0.2.1');
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.1', 'unchanged file');
    write(f, zone(1, '192.0.2.2'), 2);
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.1', 'same serial: kept');
    write(f, zone(2, '192.0.2.2'), 3);
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.2', 'new serial: swapped');
    write(f, zone(3, 'broken'), 4);
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.2', 'parse error: kept');
    fs.rmSync(f);
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.2', 'file gone: kept');
    write(f, zone(3, '192.0.2.3'), 5);
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.3', 'back: swapped');
  });

  it('swaps on any change with reload_by_mtime, and watches $INCLUDEd files', async () => {
    const f = path.join(dir, 'db.mtime');
    const inc = path.join(dir, 'db.mtime.inc');
    write(inc, 'www IN A 192.0.2.1\n', 1);
    write(f, '$TTL 60\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n$INCLUDE db.mtime.inc\n', 1);
    const s = new ZoneSource({ origin: 'example.org.', file: f, reloadMs: 1000, byMtime: true }, logger);
    s.loadOrThrow();
    assert.equal(await www(s), '192.0.2.1');
    write(inc, 'www IN A 192.0.2.9\n', 2);
    s.reloadIfChanged();
    assert.equal(await www(s), '192.0.2.9');
  });
});
