import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKubeName, type KubeNameRequest } from './parse-name.js';

/** port.protocol.endpoint.service.namespace.podOrSvc, as CoreDNS's recordRequest.String() minus cluster. */
function str(r: KubeNameRequest): string {
  return [r.port, r.protocol, r.endpoint, r.service, r.namespace, r.podOrSvc].join('.');
}

const zone = 'inter.webs.tests.';

test('parseKubeName: valid names (CoreDNS parse_test.go cases and more)', () => {
  const cases: [string, string, string][] = [
    // [query, zone, expected]
    ['_http._tcp.webs.mynamespace.svc.inter.webs.tests.', zone, 'http.tcp..webs.mynamespace.svc'],
    ['http.tcp.webs.mynamespace.svc.inter.webs.tests.', zone, 'http.tcp..webs.mynamespace.svc'],
    ['_http.tcp.webs.mynamespace.svc.inter.webs.tests.', zone, 'http.tcp..webs.mynamespace.svc'],
    ['1-2-3-4.webs.mynamespace.svc.inter.webs.tests.', zone, '..1-2-3-4.webs.mynamespace.svc'],
    ['webs.mynamespace.svc.inter.webs.tests.', zone, '...webs.mynamespace.svc'],
    ['mynamespace.svc.inter.webs.tests.', zone, '....mynamespace.svc'],
    ['inter.webs.tests.', zone, '.....'],
    ['svc.inter.webs.tests.', zone, '.....'],
    ['pod.inter.webs.tests.', zone, '.....'],
    ['..webs.mynamespace.svc.inter.webs.tests.', zone, '...webs.mynamespace.svc'],
    ['10-0-0-1.podns.pod.cluster.local.', 'cluster.local.', '...10-0-0-1.podns.pod'],
    ['x.10-0-0-1.podns.pod.cluster.local.', 'cluster.local.', '..x.10-0-0-1.podns.pod'],
    // Wildcards are ordinary labels since CoreDNS 1.9.0.
    ['*.mynamespace.svc.cluster.local.', 'cluster.local.', '...*.mynamespace.svc'],
    ['_*._*.web.ns.svc.cluster.local.', 'cluster.local.', '*.*..web.ns.svc'],
    // Root zone.
    ['web.ns.svc.', '.', '...web.ns.svc'],
    ['.', '.', '.....'],
    ['svc.', '.', '.....'],
  ];
  for (const [q, z, want] of cases) {
    const r = parseKubeName(q, z);
    assert.ok(r, `${q} should parse`);
    assert.equal(str(r), want, q);
  }
});

test('parseKubeName: invalid names', () => {
  const cases: [string, string][] = [
    ['webs.mynamespace.pood.inter.webs.test.', 'inter.webs.test.'], // neither pod nor svc
    ['too.long.for.what.I.am.trying.to.pod.inter.webs.tests.', zone], // too long
    ['a.b.c.webs.mynamespace.svc.inter.webs.tests.', zone], // three labels left of the service
    ['us-west-2a.pin._zone.webs.mynamespace.svc.inter.webs.tests.', zone], // zonal names (option not supported)
    ['dns-version.inter.webs.tests.', zone],
    ['ns.dns.inter.webs.tests.', zone],
    ['webs.mynamespace.svc.other.zone.', zone], // not under the zone
    ['xinter.webs.tests.', zone], // suffix match that is not a label boundary
    ['1.0.0.10.in-addr.arpa.', 'in-addr.arpa.'],
  ];
  for (const [q, z] of cases) assert.equal(parseKubeName(q, z), undefined, q);
});
