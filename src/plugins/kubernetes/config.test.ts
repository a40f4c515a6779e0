/** The kubernetes Corefile block: a table of snippets, as CoreDNS's setup_test.go. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCorefile } from '../../corefile/parser.js';
import { ConfigError } from '../../errors.js';
import { parseKubernetesConfig, type KubernetesConfig } from './config.js';

function parse(corefile: string): KubernetesConfig {
  const block = parseCorefile(corefile, 'Corefile').blocks[0]!;
  const d = block.directives.find((x) => x.name === 'kubernetes')!;
  return parseKubernetesConfig(d, block.addresses, '/etc/coredns');
}

const kube = (body: string, zones = 'cluster.local'): string => `.:53 {\n    kubernetes ${zones} {\n${body}\n    }\n}\n`;

describe('kubernetes config', () => {
  const ok: Array<{ name: string; corefile: string; want: Partial<KubernetesConfig> }> = [
    {
      name: 'defaults: in-cluster, ttl 5, pods disabled, zones from the arguments',
      corefile: '.:53 {\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n}\n',
      want: {
        zones: ['cluster.local.', 'in-addr.arpa.', 'ip6.arpa.'], primaryZone: 'cluster.local.', connection: { mode: 'in-cluster' },
        ttl: 5, pods: 'disabled', snapshot: undefined, namespaces: [], startupTimeoutMs: 5000, noEndpoints: false,
      },
    },
    {
      name: 'the server block zone when none is given; the first forward zone is primary',
      corefile: 'in-addr.arpa cluster.local:53 {\n    kubernetes\n}\n',
      want: { zones: ['in-addr.arpa.', 'cluster.local.'], primaryZone: 'cluster.local.' },
    },
    {
      name: 'kubeadm block',
      corefile: kube('        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n        ttl 30', 'cluster.local in-addr.arpa ip6.arpa'),
      want: { pods: 'insecure', ttl: 30, fallArgs: ['in-addr.arpa', 'ip6.arpa'] },
    },
    {
      name: 'kubeconfig with context, relative to the Corefile',
      corefile: kube('        kubeconfig kube/config prod'),
      want: { connection: { mode: 'kubeconfig', file: '/etc/coredns/kube/config', context: 'prod' } },
    },
    {
      name: 'endpoint with tls',
      corefile: kube('        endpoint https://10.0.0.1:6443\n        tls cert.pem key.pem ca.pem'),
      want: {
        connection: {
          mode: 'endpoint', url: 'https://10.0.0.1:6443',
          tls: { certFile: '/etc/coredns/cert.pem', keyFile: '/etc/coredns/key.pem', caFile: '/etc/coredns/ca.pem' },
        },
      },
    },
    { name: 'snapshot', corefile: kube('        snapshot cluster.yaml'), want: { snapshot: '/etc/coredns/cluster.yaml', connection: { mode: 'in-cluster' } } },
    {
      name: 'filters and modes',
      corefile: kube('        namespaces prod staging\n        labels app in (web, api),tier!=cache\n        pods verified\n        endpoint_pod_names\n        noendpoints\n        ignore empty_service\n        ttl 0\n        startup_timeout 1m30s\n        apiserver_qps 50\n        apiserver_burst 100\n        apiserver_max_inflight 10'),
      want: {
        namespaces: ['prod', 'staging'], labels: 'app in (web, api),tier!=cache', pods: 'verified', endpointPodNames: true,
        noEndpoints: true, ignoreEmptyService: true, ttl: 0, startupTimeoutMs: 90_000,
      },
    },
    { name: 'namespace_labels', corefile: kube('        namespace_labels istio-injection=enabled'), want: { namespaceLabels: 'istio-injection=enabled' } },
  ];
  for (const c of ok) {
    it(c.name, () => {
      const cfg = parse(c.corefile);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(cfg[k as keyof KubernetesConfig], v, k);
    });
  }

  const bad: Array<{ name: string; corefile: string; error: string }> = [
    { name: 'unknown property', corefile: kube('        podz insecure'), error: "Corefile:3 - plugin/kubernetes: unknown property 'podz'" },
    { name: 'ttl above 3600', corefile: kube('        ttl 3601'), error: "Corefile:3 - plugin/kubernetes: 'ttl': 3601 is out of range: expected 0 to 3600" },
    { name: 'ttl negative', corefile: kube('        ttl -1'), error: "Corefile:3 - plugin/kubernetes: 'ttl'" },
    { name: 'ttl without a value', corefile: kube('        ttl'), error: "Corefile:3 - plugin/kubernetes: 'ttl' takes exactly 1 argument, got none" },
    { name: 'pods mode', corefile: kube('        pods all'), error: 'Corefile:3 - plugin/kubernetes: wrong value for pods: all, must be one of: disabled, verified, insecure' },
    { name: 'ignore value', corefile: kube('        ignore everything'), error: "Corefile:3 - plugin/kubernetes: unable to parse ignore value: 'everything'" },
    { name: 'bad startup_timeout', corefile: kube('        startup_timeout 5'), error: "Corefile:3 - plugin/kubernetes: 'startup_timeout': invalid duration '5'" },
    { name: 'two endpoints', corefile: kube('        endpoint http://a:1 http://b:1'), error: 'Corefile:3 - plugin/kubernetes: multiple endpoints are not supported' },
    { name: 'kubeconfig and endpoint', corefile: kube('        kubeconfig k\n        endpoint http://a:1'), error: 'Corefile:2 - plugin/kubernetes: kubeconfig and endpoint cannot both be set' },
    { name: 'snapshot with endpoint', corefile: kube('        snapshot s.yaml\n        endpoint http://a:1'), error: 'Corefile:2 - plugin/kubernetes: snapshot cannot be combined with endpoint or kubeconfig' },
    { name: 'snapshot with labels', corefile: kube('        snapshot s.yaml\n        labels app=web'), error: 'Corefile:2 - plugin/kubernetes: labels and namespace_labels cannot be combined with snapshot' },
    { name: 'tls without endpoint', corefile: kube('        tls c k ca'), error: 'Corefile:2 - plugin/kubernetes: tls needs an endpoint' },
    { name: 'namespaces with namespace_labels', corefile: kube('        namespaces a\n        namespace_labels x=y'), error: 'Corefile:2 - plugin/kubernetes: namespaces and namespace_labels cannot both be set' },
    { name: 'bad label selector', corefile: kube('        labels a=b=c'), error: 'Corefile:3 - plugin/kubernetes: unable to parse label selector "a=b=c"' },
    { name: 'multicluster', corefile: kube('        multicluster clusterset.local'), error: 'Corefile:3 - plugin/kubernetes: multicluster is not supported' },
    { name: 'zonal', corefile: kube('        zonal'), error: 'Corefile:3 - plugin/kubernetes: zonal is not supported' },
    { name: 'only reverse zones', corefile: '.:53 {\n    kubernetes in-addr.arpa\n}\n', error: 'Corefile:2 - plugin/kubernetes: non-reverse zone name must be used' },
  ];
  for (const c of bad) {
    it(`error: ${c.name}`, () => {
      assert.throws(() => parse(c.corefile), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.ok(err.message.startsWith(c.error), `${err.message}\n  does not start with\n${c.error}`);
        return true;
      });
    });
  }
});
