/**
 * The ClusterRoles in deploy/ grant exactly what the watch really asks the API server for: the
 * watch runs against the API test double, and the (verb, group, resource) triples it used are
 * compared with the RBAC rules — both ways, so a new informer without RBAC fails, and so does a
 * grant nothing uses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import { RecordStore } from '../src/kubernetes/record-store.js';
import { buildKubeConfig } from '../src/kubernetes/watch/kube-client.js';
import { startWatch } from '../src/kubernetes/watch/informers.js';
import { startFakeKubeApi, writeKubeconfig, type ResourceName } from './support/fake-kube-api.js';

const GROUP: Record<ResourceName, string> = { namespaces: '', services: '', pods: '', endpointslices: 'discovery.k8s.io' };

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function granted(file: string): Set<string> {
  const out = new Set<string>();
  for (const doc of parseAllDocuments(fs.readFileSync(new URL(`../deploy/${file}`, import.meta.url), 'utf8'))) {
    const o = doc.toJS() as { kind?: string; rules?: Rule[] };
    if (o.kind !== 'ClusterRole') continue;
    for (const r of o.rules ?? []) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(`${v} ${g}/${res}`);
  }
  return out;
}

async function used(watchPods: boolean): Promise<Set<string>> {
  const api = await startFakeKubeApi({ bookmarkMs: 200 });
  const dir = fs.mkdtempSync(`${os.tmpdir()}/clusterdns-rbac-`);
  const handle = startWatch({
    kubeConfig: buildKubeConfig({ mode: 'kubeconfig', file: writeKubeconfig(dir, api.url) }),
    sink: new RecordStore({ pods: watchPods ? 'verified' : 'disabled' }),
    watchPods,
    logger: pino({ level: 'silent' }),
  });
  try {
    await handle.whenSynced();
    await api.waitForWatches(watchPods ? 4 : 3);
    const s = api.stats();
    const out = new Set<string>();
    for (const [res, n] of Object.entries(s.lists)) if (n > 0) out.add(`list ${GROUP[res as ResourceName]}/${res}`);
    for (const [res, n] of Object.entries(s.watches)) if (n > 0) out.add(`watch ${GROUP[res as ResourceName]}/${res}`);
    assert.equal(s.gets, 0, 'the watch never GETs single objects');
    return out;
  } finally {
    await handle.stop();
    await api.close();
  }
}

describe('RBAC matches what the code watches', () => {
  it('deploy/rbac.yaml grants exactly the default watch (services, endpointslices, namespaces)', async () => {
    assert.deepEqual([...(await used(false))].sort(), [...granted('rbac.yaml')].sort());
  });

  it('with pods verified, rbac.yaml + rbac-pods-verified.yaml grant exactly what the watch uses', async () => {
    const grants = new Set([...granted('rbac.yaml'), ...granted('rbac-pods-verified.yaml')]);
    assert.deepEqual([...(await used(true))].sort(), [...grants].sort());
  });
});
