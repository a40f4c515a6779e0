import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseCorefile } from '../../corefile/parser.js';
import { Rcode } from '../../dns/constants.js';
import type { PluginInstance, SetupContext } from '../../plugin/types.js';
import { parseHostPort, parseResolvConf, resolveTo } from './addresses.js';
import { forward, parseStanza } from './setup.js';
import { fakeProcessServices } from '../../plugin/testing.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'forward-setup-'));
fs.writeFileSync(path.join(root, 'resolv.conf'), 'nameserver 10.0.0.1\nnameserver fe80::1%eth0\n# nameserver 10.0.0.9\nsearch svc.cluster.local\n');
fs.writeFileSync(path.join(root, 'empty.conf'), 'search example.org\n');

function directives(corefile: string) {
  return parseCorefile(corefile, 'Corefile').blocks[0]!.directives.filter((d) => d.name === 'forward');
}

function setup(corefile: string): PluginInstance {
  const block = parseCorefile(corefile, 'Corefile').blocks[0]!;
  const ctx: SetupContext = {
    corefile: 'Corefile', corefileText: corefile, addresses: block.addresses, port: 53, root, logger: pino({ level: 'silent' }),
    process: fakeProcessServices(),
    siblings: new Map(),
  };
  const inst = forward.setup(block.directives.filter((d) => d.name === 'forward'), ctx);
  assert.ok(!(inst instanceof Promise));
  return inst;
}

describe('forward setup', () => {
  it('has CoreDNS defaults', () => {
    const p = parseStanza(directives('. {\n forward . 10.0.0.1\n}\n')[0]!);
    assert.equal(p.from, '.');
    assert.deepEqual(p.to, ['10.0.0.1']);
    assert.equal(p.policy.name, 'random');
    assert.equal(p.maxFails, 2);
    assert.equal(p.expireMs, 10_000);
    assert.equal(p.readTimeoutMs, 2000);
    assert.equal(p.hcIntervalMs, 500);
    assert.equal(p.hcRecursionDesired, true);
    assert.equal(p.hcDomain, '.');
    assert.equal(p.maxConcurrent, 0);
    assert.equal(p.maxConnectAttempts, undefined);
    assert.equal(p.forceTcp || p.preferUdp || p.failfast || p.nextOnNodata, false);
  });

  it('reads every supported option', () => {
    const p = parseStanza(directives(`. {
      forward Example.ORG 10.0.0.1:5353 dns://10.0.0.2 [2001:db8::1]:53 {
        except foo.example.org BAR.example.org 10.0.0.0/8
        force_tcp
        prefer_udp
        expire 30s
        max_fails 5
        max_connect_attempts 3
        read_timeout 750ms
        health_check 2s no_rec domain Health.Example.COM
        policy round_robin
        max_concurrent 1000
        next NXDOMAIN servfail
        next_on_nodata
        failover REFUSED
        failfast_all_unhealthy_upstreams
      }
    }`)[0]!);
    assert.equal(p.from, 'example.org.');
    assert.deepEqual(p.ignored, ['foo.example.org.', 'bar.example.org.', '10.in-addr.arpa.']);
    assert.deepEqual([p.forceTcp, p.preferUdp, p.nextOnNodata, p.failfast], [true, true, true, true]);
    assert.equal(p.expireMs, 30_000);
    assert.equal(p.maxFails, 5);
    assert.equal(p.maxConnectAttempts, 3);
    assert.equal(p.readTimeoutMs, 750);
    assert.deepEqual([p.hcIntervalMs, p.hcRecursionDesired, p.hcDomain], [2000, false, 'health.example.com.']);
    assert.equal(p.policy.name, 'round_robin');
    assert.equal(p.maxConcurrent, 1000);
    assert.deepEqual(p.nextRcodes, [Rcode.NXDOMAIN, Rcode.SERVFAIL]);
    assert.deepEqual(p.failoverRcodes, [Rcode.REFUSED]);
  });

  const bad: Array<[string, RegExp]> = [
    ['forward .', /Corefile:2 - plugin\/forward: 'forward' takes at least 2 arguments/],
    ['forward . tls://9.9.9.9', /'tls:\/\/' upstreams .* are not supported/],
    ['forward . https://9.9.9.9', /'https:\/\/' upstreams .* are not supported/],
    ['forward . quux://1.2.3.4', /'quux' is not supported as a destination protocol/],
    ['forward . 10.0.0.1 {\n tls cert.pem key.pem\n}', /Corefile:3 - plugin\/forward: 'tls': DNS-over-TLS upstreams are not supported/],
    ['forward . 10.0.0.1 {\n tls_servername dns.quad9.net\n}', /'tls_servername': DNS-over-TLS upstreams are not supported/],
    ['forward . 10.0.0.1 {\n max_idle_conns 4\n}', /'max_idle_conns' is not supported/],
    ['forward . 10.0.0.1 {\n policy fastest\n}', /unknown policy 'fastest'/],
    ['forward . 10.0.0.1 {\n frobnicate\n}', /Corefile:3 - plugin\/forward: unknown property 'frobnicate'/],
    ['forward . 10.0.0.1 {\n max_fails -1\n}', /max_fails/],
    ['forward . 10.0.0.1 {\n max_concurrent lots\n}', /invalid integer 'lots'/],
    ['forward . 10.0.0.1 {\n health_check -1s\n}', /must not be negative/],
    ['forward . 10.0.0.1 {\n health_check 1s sometimes\n}', /health_check: unknown option sometimes/],
    ['forward . 10.0.0.1 {\n health_check 1s domain\n}', /health_check: 'domain' needs a name/],
    ['forward . 10.0.0.1 {\n read_timeout 0s\n}', /read_timeout must be positive/],
    ['forward . 10.0.0.1 {\n expire soon\n}', /invalid duration 'soon'/],
    ['forward . 10.0.0.1 {\n next NOPE\n}', /NOPE is not a valid rcode/],
    ['forward . 10.0.0.1 {\n failover NOERROR\n}', /NoError cannot be used in failover/],
    ['forward . 10.0.0.1 {\n force_tcp yes\n}', /'force_tcp' takes no arguments/],
    ['forward . 10.0.0.1 {\n except\n}', /'except' takes at least 1 argument/],
  ];
  for (const [body, re] of bad) {
    it(`refuses: ${body.replace(/\n/g, ' ')}`, () => {
      assert.throws(() => setup(`. {\n${body}\n}\n`), re);
    });
  }

  const badTo: Array<[string, RegExp]> = [
    ['no-such-file.conf', /not an IP address or file: 'no-such-file.conf'/],
    ['dns.example.org', /host name upstreams are not supported/],
    ['10.0.0.1:99999', /invalid port '99999'/],
    ['10.0.0.1:0', /invalid port '0'/],
    ['[not-an-ip]:53', /invalid IPv6 address/],
    ['empty.conf', /no valid upstream addresses found/],
    [Array.from({ length: 16 }, (_, i) => `10.0.0.${i + 1}`).join(' '), /more than 15 TOs configured: 16/],
  ];
  for (const [to, re] of badTo) {
    it(`refuses TO ${to.slice(0, 40)}`, () => {
      assert.throws(() => setup(`. {\nforward . ${to}\n}\n`), re);
    });
  }

  it('sets up several forward directives as one chain, and exports forwardQuery', async () => {
    const inst = setup('. {\n forward example.org 10.0.0.1\n forward . 10.0.0.2\n}\n');
    assert.equal(typeof inst.handler, 'function');
    const ex = inst.exported as { forwardQuery: (n: string, t: number) => Promise<unknown> };
    assert.equal(typeof ex.forwardQuery, 'function');
    await inst.stop?.();
  });
});

describe('forward TO addresses', () => {
  it('parses IPs, ports, schemes and IPv6 literals', () => {
    assert.deepEqual(parseHostPort('10.0.0.1'), { host: '10.0.0.1', port: 53 });
    assert.deepEqual(parseHostPort('10.0.0.1:5353'), { host: '10.0.0.1', port: 5353 });
    assert.deepEqual(parseHostPort('dns://10.0.0.1'), { host: '10.0.0.1', port: 53 });
    assert.deepEqual(parseHostPort('DNS://10.0.0.1:1053'), { host: '10.0.0.1', port: 1053 });
    assert.deepEqual(parseHostPort('2001:db8::1'), { host: '2001:db8::1', port: 53 });
    assert.deepEqual(parseHostPort('[2001:db8::1]'), { host: '2001:db8::1', port: 53 });
    assert.deepEqual(parseHostPort('[::1]:5300'), { host: '::1', port: 5300 });
    assert.deepEqual(parseHostPort('dns://[::1]:5300'), { host: '::1', port: 5300 });
    assert.equal(parseHostPort('/etc/resolv.conf'), undefined);
    assert.equal(parseHostPort('resolv.conf'), undefined);
  });

  it('reads resolv.conf nameservers (port 53, zone stripped, comments ignored) and dedups', () => {
    assert.deepEqual(parseResolvConf('nameserver 10.0.0.1\n  nameserver\t10.0.0.2 # two\n;nameserver 10.0.0.3\nnameserver bogus\ndomain x\n'), [
      { host: '10.0.0.1', port: 53 }, { host: '10.0.0.2', port: 53 },
    ]);
    assert.deepEqual(resolveTo(['resolv.conf', '10.0.0.1', '10.0.0.1:53', path.join(root, 'resolv.conf')], root), [
      { host: '10.0.0.1', port: 53 }, { host: 'fe80::1', port: 53 },
    ]);
    assert.deepEqual(resolveTo(['empty.conf', '10.0.0.5:1053'], root), [{ host: '10.0.0.5', port: 1053 }]);
  });
});
