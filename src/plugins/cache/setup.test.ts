import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import type { DnsCache } from './handler.js';
import type { SetupContext } from '../../plugin/types.js';
import { cache, effectiveCapacity } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';

function setup(corefile: string): DnsCache {
  const c = parseCorefile(corefile, 'Corefile');
  const block = c.blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: corefile, addresses: block.addresses, port: 53, root: '/', logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings: new Map(),
  };
  const inst = cache.setup(block.directives.filter((d) => d.name === 'cache'), ctx);
  assert.ok(!(inst instanceof Promise));
  return inst.exported as DnsCache;
}

describe('cache setup', () => {
  it('has CoreDNS defaults', () => {
    const c = setup('example.org {\n cache\n}\n').cfg;
    assert.deepEqual(c.zones, ['example.org.']);
    assert.deepEqual(c.success, { capacity: 9984, maxBytes: 9984 * 1024, maxTtl: 3600, minTtl: 5 });
    assert.deepEqual(c.denial, { capacity: 9984, maxBytes: 9984 * 1024, maxTtl: 1800, minTtl: 5 });
    assert.equal(c.servfailTtl, 5);
    assert.deepEqual(c.prefetch, { amount: 0, windowMs: 60_000, percentage: 10 });
    assert.equal(c.staleMs, 0);
    assert.equal(c.keepTtl, false);
  });

  it('reads every option', () => {
    const c = setup(`. {
      cache 300 example.org Example.COM {
        success 5000 600 10
        denial 2500 60 1
        prefetch 10 2m 20%
        serve_stale 10m verify
        servfail 30s
        disable success cluster.local
        disable denial cluster.local in-addr.arpa
        keepttl
      }
    }`).cfg;
    assert.deepEqual(c.zones, ['example.org.', 'example.com.']);
    assert.deepEqual(c.success, { capacity: 4864, maxBytes: 4864 * 1024, maxTtl: 600, minTtl: 10 });
    assert.deepEqual(c.denial, { capacity: 2304, maxBytes: 2304 * 1024, maxTtl: 60, minTtl: 1 });
    assert.deepEqual(c.prefetch, { amount: 10, windowMs: 120_000, percentage: 20 });
    assert.equal(c.staleMs, 600_000);
    assert.equal(c.verifyStale, true);
    assert.equal(c.servfailTtl, 30);
    assert.deepEqual(c.disableSuccess, ['cluster.local.']);
    assert.deepEqual(c.disableDenial, ['cluster.local.', 'in-addr.arpa.']);
    assert.equal(c.keepTtl, true);
  });

  it('applies the TTL argument to both caches, and serve_stale defaults to 1h immediate; disable without zones means all', () => {
    const c = setup('. {\n cache 30 {\n serve_stale\n disable denial\n }\n}\n').cfg;
    assert.equal(c.success.maxTtl, 30);
    assert.equal(c.denial.maxTtl, 30);
    assert.equal(c.staleMs, 3_600_000);
    assert.equal(c.verifyStale, false);
    assert.deepEqual(c.disableDenial, ['.']);
  });

  it('rounds capacity as CoreDNS\'s 256 shards do', () => {
    assert.equal(effectiveCapacity(10000), 9984);
    assert.equal(effectiveCapacity(100), 1024);
    assert.equal(effectiveCapacity(0), 1024);
    assert.equal(effectiveCapacity(2000), 1792);
  });

  const bad: Array<[string, RegExp]> = [
    ['cache 0', /cache TTL can not be zero or negative: 0/],
    ['cache -5', /cache TTL can not be zero or negative: -5/],
    ['cache {\n success\n }', /'success' takes 1 to 3 arguments/],
    ['cache {\n success abc\n }', /invalid integer 'abc'/],
    ['cache {\n success 100 0\n }', /cache TTL can not be zero or negative: 0/],
    ['cache {\n denial 100 10 -1\n }', /cache min TTL can not be negative: -1/],
    ['cache {\n prefetch\n }', /'prefetch' takes 1 to 3 arguments/],
    ['cache {\n prefetch -1\n }', /prefetch amount should be positive: -1/],
    ['cache {\n prefetch 1 1m 20\n }', /last character of percentage should be '%'/],
    ['cache {\n prefetch 1 1m 5%\n }', /percentage should fall in range \[10, 90\]: 5/],
    ['cache {\n prefetch 1 soon\n }', /invalid duration 'soon'/],
    ['cache {\n serve_stale -1s\n }', /must not be negative/],
    ['cache {\n serve_stale 1h later\n }', /invalid value for serve_stale refresh mode: later/],
    ['cache {\n serve_stale 1h immediate 30s\n }', /RESPONSE_TTL, VERIFY_TIMEOUT and FAILURE_RECHECK .* not supported/],
    ['cache {\n serve_stale_policy prefer_positive\n }', /'serve_stale_policy' is not supported/],
    ['cache {\n servfail\n }', /'servfail' takes exactly 1 argument/],
    ['cache {\n servfail 6m\n }', /caching SERVFAIL responses over 5 minutes is not permitted/],
    ['cache {\n disable\n }', /'disable' takes at least 1 argument/],
    ['cache {\n disable everything\n }', /cache type for disable must be "success" or "denial"/],
    ['cache {\n keepttl 5\n }', /'keepttl' takes no arguments/],
    ['cache {\n capacity 5\n }', /unknown property 'capacity'/],
    ['cache\n cache', /can only be used once per Server Block/],
  ];
  for (const [body, re] of bad) {
    it(`rejects: ${body.replace(/\n/g, ' ')}`, () => {
      assert.throws(() => setup(`. {\n ${body}\n}\n`), (err: Error) => {
        assert.match(err.message, re);
        assert.match(err.message, /^Corefile:\d+ - plugin\/cache: /);
        return true;
      });
    });
  }
});
