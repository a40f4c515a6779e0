import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { parseCorefile } from '../../corefile/parser.js';
import type { ProcessServices, SetupContext } from '../../plugin/types.js';
import { reloadInfo } from './metrics.js';
import { CorefilePoller, corefileHash, reload } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';

function fakeProcess(result: () => boolean): ProcessServices & { calls: number } {
  const p = Object.assign(
    fakeProcessServices({
      reload: async () => {
        p.calls++;
        return result();
      },
    }),
    { calls: 0 },
  );
  return p;
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const logger: Logger = pino({ level: 'info' }, stream);
  return { logger, lines };
}

function setupPeriod(body: string): number {
  const text = `. {\n ${body}\n whoami\n}\n`;
  const c = parseCorefile(text, 'Corefile');
  let period = -1;
  const ctx = { corefile: 'Corefile', corefileText: text, logger: pino({ level: 'silent' }), process: fakeProcess(() => true) } as unknown as SetupContext;
  const inst = reload.setup(c.blocks[0]!.directives.filter((d) => d.name === 'reload'), ctx);
  assert.ok(!(inst instanceof Promise) && inst.afterListen && inst.stop);
  // The period is only observable through the poller; read it off a started one.
  const orig = setTimeout;
  globalThis.setTimeout = ((fn: () => void, ms: number) => { period = ms; return orig(fn, 1e9); }) as typeof setTimeout;
  try {
    void inst.afterListen();
  } finally {
    globalThis.setTimeout = orig;
  }
  void inst.stop();
  return period;
}

describe('reload setup', () => {
  it('defaults to 30s ± 7.5s (jitter 15s spread around the interval)', () => {
    for (let i = 0; i < 20; i++) {
      const p = setupPeriod('reload');
      assert.ok(p >= 22_500 && p < 37_500, String(p));
    }
  });
  it('caps the jitter at half the interval, as CoreDNS does (no error)', () => {
    for (let i = 0; i < 20; i++) {
      const p = setupPeriod('reload 10s 20s');
      assert.ok(p >= 7_500 && p <= 12_500, String(p));
    }
  });
  it('takes jitter 0 as no jitter', () => {
    assert.equal(setupPeriod('reload 2s 0s'), 2_000);
  });
  const bad: Array<[string, RegExp]> = [
    ['reload 1s', /interval value must be greater or equal to 2s/],
    ['reload -5s', /interval value must be greater or equal to 2s/],
    ['reload 10s 500ms', /jitter value must be 0 or greater or equal to 1s/],
    ['reload 10', /invalid duration '10'/],
    ['reload 10s 1s 1s', /'reload' takes at most 2 arguments/],
    ['reload {\n x\n }', /does not take a block/],
  ];
  for (const [body, re] of bad) {
    it(`rejects: ${body.replace(/\n/g, ' ')}`, () => {
      assert.throws(() => setupPeriod(body), (err: Error) => re.test(err.message) && /plugin\/reload: /.test(err.message));
    });
  }
});

describe('reload poller', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reload-unit-'));
  const file = path.join(dir, 'Corefile');
  const v1 = '. {\n    whoami\n}\n';

  it('reloads when the parsed Corefile changes, not for a comment, and not twice for the same broken file', async () => {
    fs.writeFileSync(file, v1);
    let accept = false;
    const proc = fakeProcess(() => accept);
    const { logger, lines } = capture();
    const p = new CorefilePoller(file, v1, 1e9, proc, logger);
    p.start();
    try {
      const h1 = corefileHash(parseCorefile(v1, file));
      assert.ok(lines.some((l) => l.includes(`Running configuration SHA512 = ${h1}`)));
      await p.check();
      assert.equal(proc.calls, 0, 'unchanged');
      fs.writeFileSync(file, '. {\n    whoami # a comment\n}\n');
      await p.check();
      assert.equal(proc.calls, 0, 'a comment on the same line changes nothing');

      const v2 = '. {\n    whoami\n    bogus\n}\n';
      fs.writeFileSync(file, v2);
      await p.check();
      assert.equal(proc.calls, 1, 'changed: reload asked');
      const h2 = corefileHash(parseCorefile(v2, file));
      assert.deepEqual((await reloadInfo.get()).values.filter((v) => v.value === 1).map((v) => v.labels), [{ hash: 'sha512', value: h2 }]);
      await p.check();
      assert.equal(proc.calls, 1, 'the same failed file is not tried again');

      fs.writeFileSync(file, '. {\n    whoami {\n');
      await p.check();
      assert.equal(proc.calls, 1, 'a file that does not parse is not reloaded');
      assert.ok(lines.some((l) => l.includes('plugin/reload: Corefile parse failed')));

      accept = true;
      const v3 = '. {\n    whoami\n    log\n}\n';
      fs.writeFileSync(file, v3);
      await p.check();
      assert.equal(proc.calls, 2);
      const h3 = corefileHash(parseCorefile(v3, file));
      assert.deepEqual((await reloadInfo.get()).values.filter((v) => v.value === 1).map((v) => v.labels), [{ hash: 'sha512', value: h3 }], 'the old hash label is removed');
      fs.writeFileSync(file, v1);
      await p.check();
      assert.equal(proc.calls, 2, 'after a successful reload this poller is done (the new config has its own)');
    } finally {
      p.stop();
    }
  });

  it('hands over: a newer poller of the same process stops the older one', async () => {
    fs.writeFileSync(file, v1);
    const proc = fakeProcess(() => true);
    const silent = pino({ level: 'silent' });
    const older = new CorefilePoller(file, v1, 1e9, proc, silent);
    const newer = new CorefilePoller(file, v1, 1e9, proc, silent);
    older.start();
    newer.start();
    fs.writeFileSync(file, '. {\n    whoami\n    log\n}\n');
    await older.check();
    assert.equal(proc.calls, 0, 'the retired poller does nothing');
    await newer.check();
    assert.equal(proc.calls, 1);
    older.stop();
    newer.stop();
  });
});
