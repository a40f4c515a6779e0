/** The pure search-path functions: resolv.conf reading, a Pod's search path, base-name extraction. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expand, podSearchPath, resolvConfSearch, searchBase, withSentinel } from './search-path.js';

describe('resolvConfSearch (miekg/dns ClientConfigFromReader)', () => {
  const cases: Array<{ text: string; want: string[] }> = [
    { text: 'nameserver 10.0.0.1\nsearch Foo.com bar.org.\noptions ndots:5\n', want: ['foo.com.', 'bar.org.'] },
    { text: 'search a.com\nsearch b.com c.com\n', want: ['b.com.', 'c.com.'] },
    { text: 'search a.com b.com\ndomain corp.example\n', want: ['corp.example.'] },
    { text: 'domain corp.example\nsearch  x.test\ty.test\n', want: ['x.test.', 'y.test.'] },
    { text: '# search commented.out\n; search also.out\nnameserver 10.0.0.1\n', want: [] },
    { text: 'search\n', want: [] },
    { text: '', want: [] },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.text), () => assert.deepEqual(resolvConfSearch(c.text), c.want));
  }
  it('withSentinel ends the list with the name itself', () => {
    assert.deepEqual(withSentinel(['a.', 'b.']), ['a.', 'b.', '']);
  });
});

describe('podSearchPath (CoreDNS Kubernetes.AutoPath)', () => {
  it('is what kubelet writes for the Pod, then the server\'s own search domains, then the name itself', () => {
    assert.deepEqual(podSearchPath('prod', 'cluster.local.', []), ['prod.svc.cluster.local.', 'svc.cluster.local.', 'cluster.local.', '']);
    assert.deepEqual(podSearchPath('Prod', 'cluster.local.', ['corp.example.', 'example.']), [
      'prod.svc.cluster.local.', 'svc.cluster.local.', 'cluster.local.', 'corp.example.', 'example.', '',
    ]);
  });
  it('serves the root zone', () => {
    assert.deepEqual(podSearchPath('prod', '.', []), ['prod.svc.', 'svc.', '.', '']);
  });
});

describe('searchBase (CoreDNS firstInSearchPath + TrimZone)', () => {
  const first = 'prod.svc.cluster.local.';
  const cases: Array<{ name: string; qname?: string; want: string | undefined }> = [
    { name: 'web.prod.svc.cluster.local.prod.svc.cluster.local.', want: 'web.prod.svc.cluster.local' },
    { name: 'www.example.org.prod.svc.cluster.local.', qname: 'WWW.Example.org.PROD.svc.cluster.local.', want: 'WWW.Example.org' },
    { name: 'web.prod.svc.cluster.local.', want: 'web' },
    // The second and later search domains are the client going on after autopath found nothing.
    { name: 'www.example.org.svc.cluster.local.', want: undefined },
    { name: 'web.other.svc.cluster.local.', want: undefined },
    { name: 'www.example.org.', want: undefined },
    // Not below it: the first domain itself, and a label that merely ends in it.
    { name: 'prod.svc.cluster.local.', want: undefined },
    { name: 'xprod.svc.cluster.local.', want: undefined },
    // An escaped dot is part of a label: "a\.prod" is one label under svc.cluster.local.
    { name: 'a\\.prod.svc.cluster.local.', want: undefined },
  ];
  for (const c of cases) {
    it(`${c.qname ?? c.name} → ${c.want}`, () => assert.equal(searchBase(c.name, c.qname ?? c.name, first), c.want));
  }
  it('never matches an empty or root first domain', () => {
    assert.equal(searchBase('web.', 'web.', ''), undefined);
    assert.equal(searchBase('web.', 'web.', '.'), undefined);
  });
});

describe('expand', () => {
  it('appends a search domain, or makes the name absolute for the empty one', () => {
    assert.equal(expand('web', 'svc.cluster.local.'), 'web.svc.cluster.local.');
    assert.equal(expand('www.example.org', ''), 'www.example.org.');
    assert.equal(expand('www.example.org', '.'), 'www.example.org.');
  });
});
