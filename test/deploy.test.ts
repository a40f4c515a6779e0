/**
 * Static checks of the container image recipe and the Kubernetes manifests:
 * there is no Docker engine and no cluster here, so Dockerfile, .dockerignore
 * and deploy/*.yaml must be correct by construction, and this file is what
 * checks them.
 *
 *   node --import tsx --test test/deploy.test.ts
 *
 * What it checks (details in each test):
 *   - every manifest parses, has the expected kinds/names/namespaces, and the
 *     kustomization lists exactly the base files;
 *   - RBAC is least privilege: list+watch on services, namespaces,
 *     endpointslices.discovery.k8s.io and nothing else; the optional
 *     `pods verified` variant adds list+watch on pods and nothing else;
 *   - Deployment, Service, PDB carry the fields cluster DNS needs, and the
 *     probes / container ports / Service ports agree with the `health`,
 *     `ready`, `prometheus` and server-block addresses of the ConfigMap's
 *     Corefile (parsed minimally here);
 *   - the Dockerfile: pinned bases, non-root USER, EXPOSEd ports,
 *     ENTRYPOINT/CMD → dist/cli.js -conf /etc/coredns/Corefile, COPY sources
 *     that exist and survive .dockerignore, stage wiring, and the native UDP
 *     addon: compiled in a stage with python3/make/g++ and copied to where the
 *     server loads it;
 *   - when src/corefile/parser.ts exports parseCorefile, the ConfigMap's
 *     Corefile parses with it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEPLOY = path.join(ROOT, 'deploy');
const NS = 'kube-system';
/** The file that only a `pods verified` Corefile needs; not in the base kustomization. */
const PODS_VARIANT = 'rbac-pods-verified.yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

interface Manifest {
  file: string;
  obj: Obj;
}

function readText(rel: string): string {
  return readFileSync(path.join(ROOT, rel), 'utf8');
}

// ---------------------------------------------------------------------------
// Manifests

function loadYamlFile(file: string): Obj[] {
  const text = readFileSync(path.join(DEPLOY, file), 'utf8');
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Obj[] = [];
  for (const doc of list) {
    if ('errors' in doc && doc.errors.length > 0) {
      throw new Error(`${file}: YAML errors: ${doc.errors.map((e) => e.message).join('; ')}`);
    }
    if ('warnings' in doc && doc.warnings.length > 0) {
      throw new Error(`${file}: YAML warnings: ${doc.warnings.map((e) => e.message).join('; ')}`);
    }
    const js = doc.toJS();
    if (js !== null && js !== undefined) out.push(js);
  }
  return out;
}

const yamlFiles = readdirSync(DEPLOY)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort();
const manifestFiles = yamlFiles.filter((f) => f !== 'kustomization.yaml');

const all: Manifest[] = [];
for (const file of manifestFiles) {
  for (const obj of loadYamlFile(file)) all.push({ file, obj });
}
const base = all.filter((m) => m.file !== PODS_VARIANT);
const podsVariant = all.filter((m) => m.file === PODS_VARIANT);

function one(list: Manifest[], kind: string, name: string): Obj {
  const hits = list.filter((m) => m.obj.kind === kind && m.obj.metadata?.name === name);
  assert.equal(hits.length, 1, `expected exactly one ${kind}/${name}, found ${hits.length}`);
  return hits[0]!.obj;
}

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'PriorityClass']);

const deployment = one(base, 'Deployment', 'clusterdns');
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
const configMap = one(base, 'ConfigMap', 'coredns');
const service = one(base, 'Service', 'kube-dns');
const pdb = one(base, 'PodDisruptionBudget', 'clusterdns');
const serviceAccount = one(base, 'ServiceAccount', 'clusterdns');
const clusterRole = one(base, 'ClusterRole', 'clusterdns');
const clusterRoleBinding = one(base, 'ClusterRoleBinding', 'clusterdns');
const packageJson = JSON.parse(readText('package.json'));

// ---------------------------------------------------------------------------
// Minimal Corefile reading: enough to find server-block keys and the
// `health`, `ready`, `prometheus`, `kubernetes` directives with their args.
// (The real parser is src/corefile/parser.ts; see the last test.)

interface CfDirective {
  name: string;
  args: string[];
  children: CfDirective[];
}
interface CfBlock {
  keys: string[];
  directives: CfDirective[];
}

function miniParseCorefile(text: string): CfBlock[] {
  const blocks: CfBlock[] = [];
  // Stack of directive lists we are inside; [] at top level.
  let block: CfBlock | undefined;
  const stack: CfDirective[][] = [];
  let pendingKeys: string[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*$/, '');
    const tokens = line.replace(/[{}]/g, (b) => ` ${b} `).split(/\s+/).filter(Boolean);
    let i = 0;
    while (i < tokens.length) {
      const tok = tokens[i]!;
      if (block === undefined) {
        // Top level: server block keys until '{'.
        if (tok === '{') {
          block = { keys: pendingKeys, directives: [] };
          blocks.push(block);
          stack.push(block.directives);
          pendingKeys = [];
        } else if (tok === '}') {
          throw new Error('Corefile: unbalanced }');
        } else {
          pendingKeys.push(tok.replace(/,$/, ''));
        }
        i++;
        continue;
      }
      if (tok === '}') {
        stack.pop();
        if (stack.length === 0) block = undefined;
        i++;
        continue;
      }
      // A directive line: name args... [ '{' ]
      const rest: string[] = [];
      let j = i + 1;
      while (j < tokens.length && tokens[j] !== '{' && tokens[j] !== '}') rest.push(tokens[j++]!);
      const d: CfDirective = { name: tok, args: rest, children: [] };
      stack[stack.length - 1]!.push(d);
      if (tokens[j] === '{') {
        stack.push(d.children);
        j++;
      }
      i = j;
    }
  }
  assert.equal(stack.length, 0, 'Corefile: unbalanced {');
  return blocks;
}

interface HostPort {
  host: string;
  port: number;
}

function parseHostPort(addr: string): HostPort {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(addr);
  assert.ok(m, `not a host:port address: ${addr}`);
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

/** Port of a server block key such as `.:53`, `dns://cluster.local:1053`, `example.org` (53). */
function serverKeyPort(key: string): number {
  const noScheme = key.replace(/^[a-z]+:\/\//, '');
  const m = /:(\d+)$/.exec(noScheme);
  return m ? Number(m[1]) : 53;
}

function parseDurationSeconds(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  assert.ok(m, `not a duration: ${s}`);
  const n = Number(m[1]);
  return { ms: n / 1000, s: n, m: n * 60, h: n * 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

const corefileText: string = configMap.data.Corefile;
const corefile = miniParseCorefile(corefileText);
const allDirectives = corefile.flatMap((b) => b.directives);

/**
 * Address a plugin listens on, with CoreDNS's defaults: health :8080,
 * ready :8181, prometheus localhost:9153 (CoreDNS's documented default is
 * loopback, which is why the kubeadm Corefile says `prometheus :9153`).
 */
function pluginAddress(name: 'health' | 'ready' | 'prometheus'): HostPort | undefined {
  const defaults = { health: ':8080', ready: ':8181', prometheus: 'localhost:9153' };
  const found = allDirectives.filter((d) => d.name === name);
  if (found.length === 0) return undefined;
  const addrs = new Set(found.map((d) => d.args[0] ?? defaults[name]));
  assert.equal(addrs.size, 1, `${name}: one listen address expected, got ${[...addrs].join(', ')}`);
  return parseHostPort([...addrs][0]!);
}

// ---------------------------------------------------------------------------
// Dockerfile parsing: instructions with line continuations, comments, parser
// directives, global ARG substitution in FROM, flags and JSON (exec) form.

interface Instruction {
  cmd: string; // upper-case
  flags: Record<string, string>;
  args: string[];
  json: boolean;
  raw: string;
  line: number;
}

interface Stage {
  index: number;
  name: string | undefined;
  base: string; // after ARG substitution
  instructions: Instruction[];
}

function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  // Parser directives: only at the very top, `# key=value`.
  for (const l of lines) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(l);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escape = m[2]!;
  }
  const logical: { text: string; line: number }[] = [];
  let cur: string | undefined;
  let start = 0;
  lines.forEach((l, idx) => {
    const trimmed = l.trim();
    if (cur === undefined) {
      if (trimmed === '' || trimmed.startsWith('#')) return;
      start = idx + 1;
      cur = '';
    } else if (trimmed.startsWith('#') || trimmed === '') {
      return; // comments and empty lines inside a continued instruction are dropped
    }
    const continued = trimmed.endsWith(escape);
    cur += (cur === '' ? '' : ' ') + (continued ? trimmed.slice(0, -escape.length).trim() : trimmed);
    if (!continued) {
      logical.push({ text: cur, line: start });
      cur = undefined;
    }
  });
  assert.equal(cur, undefined, 'Dockerfile ends inside a line continuation');

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const { text: t, line } of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(t)!;
    const cmd = m[1]!.toUpperCase();
    let rest = m[2]!;
    const flags: Record<string, string> = {};
    if (['FROM', 'COPY', 'ADD', 'RUN'].includes(cmd)) {
      let fm: RegExpExecArray | null;
      while ((fm = /^--([a-z-]+)(?:=(\S+))?\s*/.exec(rest)) !== null) {
        flags[fm[1]!] = fm[2] ?? 'true';
        rest = rest.slice(fm[0].length);
      }
    }
    let args: string[];
    let json = false;
    if (rest.startsWith('[')) {
      args = JSON.parse(rest) as string[];
      assert.ok(Array.isArray(args) && args.every((a) => typeof a === 'string'), `line ${line}: bad JSON form`);
      json = true;
    } else {
      args = rest.split(/\s+/).filter(Boolean);
    }
    const ins: Instruction = { cmd, flags, args, json, raw: t, line };
    if (cmd === 'FROM') {
      const subst = (s: string): string =>
        s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a, b) => {
          const v = globalArgs[a ?? b];
          assert.ok(v !== undefined, `line ${line}: FROM uses undefined ARG ${a ?? b}`);
          return v;
        });
      const asIdx = args.findIndex((a) => a.toUpperCase() === 'AS');
      stages.push({
        index: stages.length,
        name: asIdx >= 0 ? args[asIdx + 1] : undefined,
        base: subst(args[0]!),
        instructions: [],
      });
      continue;
    }
    if (stages.length === 0) {
      assert.equal(cmd, 'ARG', `line ${line}: only ARG may precede the first FROM`);
      for (const a of args) {
        const [k, v] = a.split('=', 2) as [string, string | undefined];
        if (v !== undefined) globalArgs[k] = v.replace(/^"(.*)"$/, '$1');
      }
      continue;
    }
    stages[stages.length - 1]!.instructions.push(ins);
  }
  return { globalArgs, stages };
}

const dockerfile = parseDockerfile(readText('Dockerfile'));
const finalStage = dockerfile.stages[dockerfile.stages.length - 1]!;

function stageByRef(ref: string): Stage | undefined {
  return dockerfile.stages.find((s) => s.name === ref || String(s.index) === ref);
}

/** WORKDIR in effect before each instruction of a stage (inherits from a parent stage). */
function workdirs(stage: Stage): string[] {
  const parent = stageByRef(stage.base);
  let wd = parent && parent.index < stage.index ? finalWorkdir(parent) : '/';
  return stage.instructions.map((ins) => {
    const before = wd;
    if (ins.cmd === 'WORKDIR') wd = path.posix.resolve(wd, ins.args[0]!);
    return before;
  });
}
function finalWorkdir(stage: Stage): string {
  const wds = workdirs(stage);
  const last = stage.instructions[stage.instructions.length - 1];
  if (last === undefined) return '/';
  return last.cmd === 'WORKDIR' ? path.posix.resolve(wds[wds.length - 1]!, last.args[0]!) : wds[wds.length - 1]!;
}

interface CopyOp {
  stage: Stage;
  from: string | undefined;
  sources: string[];
  /** Destination directory for directory sources / the resolved dest path. */
  dest: string;
  destIsDir: boolean;
  ins: Instruction;
}

function copyOps(stage: Stage): CopyOp[] {
  const wds = workdirs(stage);
  const out: CopyOp[] = [];
  stage.instructions.forEach((ins, i) => {
    if (ins.cmd !== 'COPY' && ins.cmd !== 'ADD') return;
    assert.ok(ins.args.length >= 2, `line ${ins.line}: ${ins.cmd} needs a source and a destination`);
    const sources = ins.args.slice(0, -1);
    const rawDest = ins.args[ins.args.length - 1]!;
    out.push({
      stage,
      from: ins.flags.from,
      sources,
      dest: path.posix.resolve(wds[i]!, rawDest),
      destIsDir: rawDest.endsWith('/') || sources.length > 1,
      ins,
    });
  });
  return out;
}

/** Where a single source ends up: a file into a dir dest keeps its basename; a directory's contents go to dest. */
function landingPath(op: CopyOp, source: string, sourceIsDir: boolean): string {
  if (sourceIsDir || !op.destIsDir) return op.dest;
  return path.posix.join(op.dest, path.posix.basename(source));
}

function runText(stage: Stage): string {
  return stage.instructions
    .filter((i) => i.cmd === 'RUN')
    .map((i) => (i.json ? i.args.join(' ') : i.args.join(' ')))
    .join('\n');
}

// ---------------------------------------------------------------------------
// .dockerignore matching (Docker's rules: Go filepath.Match patterns plus
// `**`, leading `/` ignored, `!` re-includes, last match wins, and a pattern
// that matches a parent directory matches everything below it).

interface IgnoreRule {
  negate: boolean;
  re: RegExp;
  pattern: string;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i);
      assert.ok(end > i, `.dockerignore: unterminated [ in ${pattern}`);
      re += '[' + pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\') + ']';
      i = end;
    } else {
      re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let p = raw.trim();
    if (p === '' || p.startsWith('#')) continue;
    const negate = p.startsWith('!');
    if (negate) p = p.slice(1).trim();
    p = path.posix.normalize(p).replace(/^\/+/, '').replace(/\/+$/, '');
    if (p === '.' || p === '') continue;
    rules.push({ negate, re: globToRegExp(p), pattern: p });
  }
  return rules;
}

const ignoreRules = existsSync(path.join(ROOT, '.dockerignore')) ? parseDockerignore(readText('.dockerignore')) : [];

function isIgnored(rel: string): boolean {
  const parts = rel.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of ignoreRules) {
    if (candidates.some((c) => rule.re.test(c))) ignored = !rule.negate;
  }
  return ignored;
}

function walkFiles(relDir: string): string[] {
  const out: string[] = [];
  for (const ent of readdirSync(path.join(ROOT, relDir), { withFileTypes: true })) {
    const rel = path.posix.join(relDir, ent.name);
    if (ent.isDirectory()) out.push(...walkFiles(rel));
    else if (ent.isFile()) out.push(rel);
  }
  return out;
}

/** Expand a COPY source from the build context (supports * and ? in the last segment). */
function expandContextSource(src: string): string[] {
  const clean = path.posix.normalize(src).replace(/^\.\//, '').replace(/\/+$/, '') || '.';
  if (!/[*?[]/.test(clean)) return existsSync(path.join(ROOT, clean)) ? [clean] : [];
  const dir = path.posix.dirname(clean);
  const re = globToRegExp(path.posix.basename(clean));
  if (!existsSync(path.join(ROOT, dir))) return [];
  return readdirSync(path.join(ROOT, dir))
    .filter((n) => re.test(n))
    .map((n) => (dir === '.' ? n : `${dir}/${n}`));
}

// ===========================================================================
// Tests: manifests

test('every manifest parses and has apiVersion, kind, metadata.name', () => {
  assert.ok(manifestFiles.length >= 5, `expected the deploy/ manifests, found ${manifestFiles.join(', ')}`);
  assert.ok(all.length > 0);
  for (const { file, obj } of all) {
    assert.equal(typeof obj, 'object', `${file}: document is not a mapping`);
    assert.match(String(obj.apiVersion), /^[a-z0-9.]*\/?v\d+(?:(alpha|beta)\d+)?$/, `${file}: apiVersion`);
    assert.match(String(obj.kind), /^[A-Z][A-Za-z]+$/, `${file}: kind`);
    assert.ok(obj.metadata?.name, `${file}: ${obj.kind} without metadata.name`);
    if (CLUSTER_SCOPED.has(obj.kind)) {
      assert.equal(obj.metadata.namespace, undefined, `${file}: ${obj.kind}/${obj.metadata.name} is cluster-scoped`);
    } else {
      assert.equal(obj.metadata.namespace, NS, `${file}: ${obj.kind}/${obj.metadata.name} must be in ${NS}`);
    }
  }
  const keys = all.map((m) => `${m.obj.kind}/${m.obj.metadata.namespace ?? ''}/${m.obj.metadata.name}`);
  assert.equal(new Set(keys).size, keys.length, `duplicate objects: ${keys.join(', ')}`);
  // The apiVersions the objects must use (no removed betas).
  const expectedApi: Record<string, string> = {
    Deployment: 'apps/v1',
    Service: 'v1',
    ConfigMap: 'v1',
    ServiceAccount: 'v1',
    ClusterRole: 'rbac.authorization.k8s.io/v1',
    ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
    PodDisruptionBudget: 'policy/v1',
  };
  for (const { file, obj } of all) {
    assert.ok(obj.kind in expectedApi, `${file}: unexpected kind ${obj.kind}`);
    assert.equal(obj.apiVersion, expectedApi[obj.kind], `${file}: ${obj.kind} apiVersion`);
  }
});

test('kustomization lists every base manifest, not the pods-verified variant, and sets the image tag', () => {
  const [kust] = loadYamlFile('kustomization.yaml');
  assert.equal(kust.kind, 'Kustomization');
  const resources: string[] = kust.resources;
  for (const r of resources) assert.ok(existsSync(path.join(DEPLOY, r)), `kustomization: missing ${r}`);
  const expected = manifestFiles.filter((f) => f !== PODS_VARIANT);
  const podsVerified = /\bpods\s+verified\b/.test(corefileText);
  assert.deepEqual(
    [...resources].sort(),
    (podsVerified ? [...expected, PODS_VARIANT] : expected).sort(),
    'kustomization resources must be exactly the base manifests (plus the pods variant only for `pods verified`)',
  );
  const imageName = String(container.image).replace(/[:@].*$/, '');
  const entry = (kust.images ?? []).find((i: Obj) => i.name === imageName);
  assert.ok(entry, `kustomization images: no entry for ${imageName}`);
  assert.equal(String(entry.newTag), packageJson.version, 'image tag follows package.json version');
});

test('ClusterRole grants exactly list+watch on services, namespaces, endpointslices', () => {
  const triples = rbacTriples(clusterRole);
  const expected = [
    ['', 'namespaces', 'list'],
    ['', 'namespaces', 'watch'],
    ['', 'services', 'list'],
    ['', 'services', 'watch'],
    ['discovery.k8s.io', 'endpointslices', 'list'],
    ['discovery.k8s.io', 'endpointslices', 'watch'],
  ].map((t) => t.join('|'));
  assert.deepEqual(triples, expected.sort());
  const bases = base.filter((m) => m.obj.kind === 'ClusterRole' || m.obj.kind === 'Role');
  assert.equal(bases.length, 1, 'the base install has exactly one (Cluster)Role');
  assert.equal(clusterRole.aggregationRule, undefined, 'no aggregation (it could pull in other rules)');
});

/** Flatten rules to sorted "group|resource|verb" and reject wildcards and extras. */
function rbacTriples(role: Obj): string[] {
  const out = new Set<string>();
  const WRITE = new Set(['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate']);
  for (const rule of role.rules as Obj[]) {
    assert.equal(rule.nonResourceURLs, undefined, `${role.metadata.name}: nonResourceURLs`);
    assert.equal(rule.resourceNames, undefined, `${role.metadata.name}: resourceNames`);
    for (const g of rule.apiGroups as string[]) {
      for (const r of rule.resources as string[]) {
        for (const v of rule.verbs as string[]) {
          for (const x of [g, r, v]) assert.ok(!x.includes('*'), `${role.metadata.name}: wildcard in ${g}/${r}/${v}`);
          assert.ok(!r.includes('/'), `${role.metadata.name}: subresource ${r}`);
          assert.ok(!WRITE.has(v), `${role.metadata.name}: write verb ${v} on ${r}`);
          out.add(`${g}|${r}|${v}`);
        }
      }
    }
  }
  return [...out].sort();
}

test('ClusterRoleBinding binds the clusterdns ServiceAccount, which the Deployment uses', () => {
  assert.deepEqual(clusterRoleBinding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'ClusterRole',
    name: clusterRole.metadata.name,
  });
  assert.deepEqual(clusterRoleBinding.subjects, [
    { kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace: NS },
  ]);
  assert.equal(podSpec.serviceAccountName, serviceAccount.metadata.name);
  assert.notEqual(podSpec.automountServiceAccountToken, false, 'the API token is needed in-cluster');
  assert.notEqual(serviceAccount.automountServiceAccountToken, false, 'the API token is needed in-cluster');
});

test('pods-verified variant adds only list+watch on pods, for the same ServiceAccount', () => {
  const roles = podsVariant.filter((m) => m.obj.kind === 'ClusterRole');
  const bindings = podsVariant.filter((m) => m.obj.kind === 'ClusterRoleBinding');
  assert.equal(roles.length, 1);
  assert.equal(bindings.length, 1);
  assert.equal(podsVariant.length, 2, 'the variant holds one ClusterRole and its binding, nothing else');
  const role = roles[0]!.obj;
  assert.notEqual(role.metadata.name, clusterRole.metadata.name, 'must not replace the base ClusterRole');
  assert.deepEqual(rbacTriples(role), ['|pods|list', '|pods|watch']);
  const binding = bindings[0]!.obj;
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace: NS }]);
});

test('ConfigMap coredns holds the kubeadm Corefile', () => {
  assert.deepEqual(Object.keys(configMap.data), ['Corefile']);
  assert.equal(corefile.length, 1);
  assert.deepEqual(corefile[0]!.keys, ['.:53']);
  assert.deepEqual(
    corefile[0]!.directives.map((d) => d.name),
    ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  );
  const k8s = allDirectives.find((d) => d.name === 'kubernetes')!;
  assert.deepEqual(k8s.args, ['cluster.local', 'in-addr.arpa', 'ip6.arpa']);
  assert.deepEqual(
    k8s.children.map((c) => [c.name, ...c.args].join(' ')),
    ['pods insecure', 'fallthrough in-addr.arpa ip6.arpa', 'ttl 30'],
  );
  const fwd = allDirectives.find((d) => d.name === 'forward')!;
  assert.deepEqual(fwd.args, ['.', '/etc/resolv.conf']);
});

test('Deployment: replicas, strategy, selector, labels, scheduling', () => {
  assert.equal(deployment.spec.replicas, 2);
  assert.equal(deployment.spec.strategy.type, 'RollingUpdate');
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 1);
  const sel = deployment.spec.selector.matchLabels;
  const labels = deployment.spec.template.metadata.labels;
  assert.equal(deployment.spec.selector.matchExpressions, undefined);
  for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `template lacks selector label ${k}`);
  assert.equal(labels['k8s-app'], 'kube-dns', 'pods keep k8s-app: kube-dns for the Service and NetworkPolicies');
  assert.ok(
    Object.keys(sel).some((k) => k !== 'k8s-app'),
    'the selector must be narrower than k8s-app: kube-dns, or it would match CoreDNS pods during a swap',
  );
  assert.equal(podSpec.priorityClassName, 'system-cluster-critical');
  assert.equal(podSpec.dnsPolicy, 'Default');
  assert.deepEqual(podSpec.nodeSelector, { 'kubernetes.io/os': 'linux' });
  assert.notEqual(podSpec.hostNetwork, true);
  const tol = podSpec.tolerations as Obj[];
  assert.ok(tol.some((t) => t.key === 'CriticalAddonsOnly' && t.operator === 'Exists'), 'CriticalAddonsOnly toleration');
  assert.ok(
    tol.some((t) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule'),
    'control-plane toleration',
  );
  const pref = podSpec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution as Obj[];
  assert.equal(podSpec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined);
  assert.ok(pref.length >= 1);
  const term = pref[0].podAffinityTerm;
  assert.equal(term.topologyKey, 'kubernetes.io/hostname');
  assert.ok(selectorMatches(term.labelSelector, labels), 'anti-affinity must select our own pods');
  assert.equal(podSpec.containers.length, 1);
  assert.equal(podSpec.initContainers, undefined);
});

function selectorMatches(selector: Obj, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of (selector.matchExpressions ?? []) as Obj[]) {
    const has = e.key in labels;
    const val = labels[e.key];
    if (e.operator === 'In' && !(has && e.values.includes(val))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(val)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

test('Deployment: container security context, resources, image, config volume', () => {
  const psc = podSpec.securityContext;
  const csc = container.securityContext;
  const eff = (k: string): Obj => csc?.[k] ?? psc?.[k];
  assert.equal(eff('runAsNonRoot'), true);
  assert.equal(eff('runAsUser'), 65532);
  assert.equal(eff('seccompProfile')?.type, 'RuntimeDefault');
  assert.equal(csc.allowPrivilegeEscalation, false);
  assert.equal(csc.readOnlyRootFilesystem, true);
  assert.notEqual(csc.privileged, true);
  assert.deepEqual(csc.capabilities, { drop: ['ALL'], add: ['NET_BIND_SERVICE'] });
  // How port 53 is bound as non-root (deploy/README.md): the namespaced sysctl.
  const sysctl = (psc.sysctls as Obj[] | undefined)?.find((s) => s.name === 'net.ipv4.ip_unprivileged_port_start');
  assert.ok(sysctl, 'pod sysctl net.ipv4.ip_unprivileged_port_start is what lets uid 65532 bind :53');
  assert.equal(typeof sysctl.value, 'string', 'sysctl values are strings');
  const lowest = Math.min(...allContainerPorts().map((p) => p.containerPort));
  assert.ok(Number(sysctl.value) <= lowest, `ip_unprivileged_port_start ${sysctl.value} > lowest port ${lowest}`);
  for (const s of psc.sysctls as Obj[]) {
    // Only Kubernetes' "safe" (namespaced, allowed by default) sysctls.
    assert.ok(
      ['net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies',
        'net.ipv4.ping_group_range', 'kernel.shm_rmid_forced'].includes(s.name),
      `unsafe sysctl ${s.name}`,
    );
  }

  // Sized from the bench (deploy/deployment.yaml explains the figures); the V8 heap cap must sit
  // below the memory limit so V8 collects before the kernel OOM-kills the pod.
  assert.deepEqual(container.resources, { requests: { cpu: '100m', memory: '192Mi' }, limits: { memory: '512Mi' } });
  const nodeOptions = ((container.env ?? []) as Obj[]).find((e) => e.name === 'NODE_OPTIONS')?.value as string | undefined;
  const heapMb = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1]);
  assert.ok(heapMb > 0 && heapMb < 512 * 0.8, `V8 heap cap ${heapMb} MB must be well under the 512Mi limit`);
  assert.ok(container.image, 'image');
  assert.ok(!/:latest$/.test(container.image) && /[:@]/.test(container.image), 'image must carry a tag or digest, not latest');
  assert.equal(container.image.replace(/^.*:/, ''), packageJson.version, 'image tag follows package.json version');

  const mount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === '/etc/coredns');
  assert.ok(mount, 'the Corefile volume is mounted at /etc/coredns');
  assert.equal(mount.readOnly, true);
  assert.equal(mount.subPath, undefined, 'no subPath: ConfigMap updates must reach the file for `reload`');
  const vol = (podSpec.volumes as Obj[]).find((v) => v.name === mount.name);
  assert.deepEqual(vol.configMap, { name: configMap.metadata.name, items: [{ key: 'Corefile', path: 'Corefile' }] });
  // Where the server is told to read it.
  const argv = containerArgv();
  const i = argv.indexOf('-conf');
  assert.ok(i >= 0, `-conf missing from ${argv.join(' ')}`);
  assert.equal(argv[i + 1], '/etc/coredns/Corefile');
});

/** The process argv in the pod: image ENTRYPOINT/CMD overridden by command/args like Kubernetes does. */
function containerArgv(): string[] {
  const ep = lastInstr(finalStage, 'ENTRYPOINT')?.args ?? [];
  const cmd = lastInstr(finalStage, 'CMD')?.args ?? [];
  if (container.command) return [...container.command, ...(container.args ?? [])];
  return [...ep, ...(container.args ?? cmd)];
}

function lastInstr(stage: Stage, cmd: string): Instruction | undefined {
  return [...stage.instructions].reverse().find((i) => i.cmd === cmd);
}

function allContainerPorts(): Obj[] {
  return container.ports as Obj[];
}

function containerPort(port: number, protocol: string): Obj | undefined {
  return allContainerPorts().find((p) => p.containerPort === port && (p.protocol ?? 'TCP') === protocol);
}

function resolveProbePort(probePort: number | string): number {
  if (typeof probePort === 'number') return probePort;
  const p = allContainerPorts().find((x) => x.name === probePort);
  assert.ok(p, `probe port ${probePort} names no container port`);
  return p.containerPort;
}

test('probes, container ports and Service agree with the Corefile addresses', () => {
  const health = pluginAddress('health');
  const ready = pluginAddress('ready');
  const prom = pluginAddress('prometheus');
  assert.ok(health, 'Corefile must enable `health` (liveness probe target)');
  assert.ok(ready, 'Corefile must enable `ready` (readiness probe target)');
  assert.ok(prom, 'Corefile must enable `prometheus` (metrics port)');
  for (const [n, a] of [['health', health], ['ready', ready], ['prometheus', prom]] as const) {
    assert.ok(!isLoopback(a.host), `${n} listens on ${a.host}:${a.port}; kubelet/Prometheus reach the pod IP, not loopback`);
  }

  const live = container.livenessProbe;
  assert.equal(live.httpGet.path, '/health');
  assert.equal(resolveProbePort(live.httpGet.port), health.port);
  assert.equal(live.initialDelaySeconds, 60);
  assert.equal(live.timeoutSeconds, 5);
  assert.equal(live.failureThreshold, 5);
  const rd = container.readinessProbe;
  assert.equal(rd.httpGet.path, '/ready');
  assert.equal(resolveProbePort(rd.httpGet.port), ready.port);
  assert.ok(containerPort(health.port, 'TCP'), `no containerPort ${health.port}/TCP for health`);
  assert.ok(containerPort(ready.port, 'TCP'), `no containerPort ${ready.port}/TCP for ready`);

  const metrics = containerPort(prom.port, 'TCP');
  assert.ok(metrics, `no containerPort ${prom.port}/TCP for prometheus`);
  assert.equal(metrics.name, 'metrics');

  const dnsPorts = new Set(corefile.flatMap((b) => b.keys.map(serverKeyPort)));
  for (const port of dnsPorts) {
    assert.ok(containerPort(port, 'UDP'), `no containerPort ${port}/UDP for the server block`);
    assert.ok(containerPort(port, 'TCP'), `no containerPort ${port}/TCP for the server block`);
  }
  const names = allContainerPorts().map((p) => p.name);
  assert.equal(new Set(names).size, names.length, 'container port names are unique');

  // lameduck must fit in the grace period, or SIGKILL cuts it short.
  const h = allDirectives.find((d) => d.name === 'health')!;
  const lameduck = h.children.find((c) => c.name === 'lameduck');
  const grace = podSpec.terminationGracePeriodSeconds ?? 30;
  if (lameduck) assert.ok(parseDurationSeconds(lameduck.args[0]!) < grace, 'lameduck >= terminationGracePeriodSeconds');

  // Service -> container ports.
  const svcPorts = service.spec.ports as Obj[];
  const targetOf = (sp: Obj): number => {
    const t = sp.targetPort ?? sp.port;
    if (typeof t === 'number') return t;
    const cp = allContainerPorts().find((p) => p.name === t);
    assert.ok(cp, `Service targetPort ${t} names no container port`);
    return cp.containerPort;
  };
  const find = (name: string): Obj => {
    const sp = svcPorts.find((p) => p.name === name);
    assert.ok(sp, `Service port ${name}`);
    return sp;
  };
  const dns = find('dns');
  const dnsTcp = find('dns-tcp');
  const met = find('metrics');
  assert.deepEqual([dns.port, dns.protocol], [53, 'UDP']);
  assert.deepEqual([dnsTcp.port, dnsTcp.protocol ?? 'TCP'], [53, 'TCP']);
  assert.deepEqual([met.port, met.protocol ?? 'TCP'], [9153, 'TCP']);
  assert.ok(dnsPorts.has(targetOf(dns)), 'Service dns targetPort is the Corefile server port');
  assert.ok(dnsPorts.has(targetOf(dnsTcp)), 'Service dns-tcp targetPort is the Corefile server port');
  assert.equal(targetOf(met), prom.port, 'Service metrics targetPort is the prometheus port');
  assert.equal(service.metadata.annotations?.['prometheus.io/port'], String(prom.port));
});

test('Service kube-dns: clusterIP, labels, selector', () => {
  assert.equal(service.spec.clusterIP, '10.96.0.10');
  assert.equal(service.spec.type ?? 'ClusterIP', 'ClusterIP');
  assert.equal(service.metadata.labels['k8s-app'], 'kube-dns');
  assert.deepEqual(service.spec.selector, { 'k8s-app': 'kube-dns' });
  assert.ok(selectorMatches({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels));
  assert.deepEqual(
    (service.spec.ports as Obj[]).map((p) => p.name).sort(),
    ['dns', 'dns-tcp', 'metrics'],
  );
});

test('PodDisruptionBudget covers exactly the Deployment pods', () => {
  const s = pdb.spec;
  assert.ok(
    s.maxUnavailable === 1 || s.minAvailable === 1,
    'PDB: maxUnavailable 1 or minAvailable 1',
  );
  assert.ok(!(s.maxUnavailable !== undefined && s.minAvailable !== undefined), 'PDB: only one of min/max');
  assert.deepEqual(s.selector, deployment.spec.selector);
  assert.ok(s.maxUnavailable !== undefined || deployment.spec.replicas > s.minAvailable, 'PDB must allow one eviction');
});

// ===========================================================================
// Tests: Dockerfile and .dockerignore

test('Dockerfile: every FROM is pinned to a version (no latest, no bare tag)', () => {
  assert.ok(dockerfile.stages.length >= 2, 'multi-stage build');
  for (const s of dockerfile.stages) {
    const ref = s.base;
    const prior = stageByRef(ref);
    if (prior && prior.index < s.index) continue; // FROM an earlier stage
    assert.notEqual(ref, 'scratch');
    const [nameTag, digest] = ref.split('@') as [string, string | undefined];
    const lastSlash = nameTag.lastIndexOf('/');
    const colon = nameTag.indexOf(':', lastSlash + 1);
    const tag = colon >= 0 ? nameTag.slice(colon + 1) : undefined;
    assert.ok(tag || digest, `FROM ${ref}: no tag or digest`);
    assert.notEqual(tag, 'latest', `FROM ${ref}: latest`);
    if (digest) assert.match(digest, /^sha256:[0-9a-f]{64}$/, `FROM ${ref}: malformed digest`);
    if (!digest) {
      // A tag alone must name a version (node:20.20.2-bookworm-slim), not a moving
      // alias (node:lts, node:20, distroless :nonroot without a digest).
      assert.match(tag!, /^v?\d+\.\d+/, `FROM ${ref}: tag is not a version; pin a version or a digest`);
    }
  }
});

test('Dockerfile: build stage uses npm ci and npm run build; runtime node_modules omit dev dependencies', () => {
  const dist = copyOps(finalStage).find((op) => op.from && op.sources.some((s) => /\/dist\/?$/.test(s)));
  assert.ok(dist, 'the runtime stage copies dist/ from a build stage');
  const build = stageByRef(dist.from!)!;
  assert.ok(build, `COPY --from=${dist.from}: no such stage`);
  assert.match(runText(build), /\bnpm ci\b/, 'build stage installs with npm ci (lockfile-exact)');
  assert.match(runText(build), /\bnpm run build\b/);
  assert.equal(
    path.posix.normalize(dist.sources[0]!).replace(/\/$/, ''),
    path.posix.join(finalWorkdir(build), 'dist'),
    'dist is copied from where tsc writes it (build WORKDIR + outDir dist)',
  );

  const nm = copyOps(finalStage).find((op) => op.sources.some((s) => /node_modules\/?$/.test(s)));
  assert.ok(nm, 'the runtime stage copies node_modules');
  assert.ok(nm.from, 'node_modules come from a build stage, never from the context');
  const deps = stageByRef(nm.from!)!;
  assert.match(
    runText(deps),
    /npm ci\b[^\n]*--omit=dev|npm prune\b[^\n]*--omit=dev|npm ci\b[^\n]*--production/,
    'runtime node_modules are installed or pruned with --omit=dev',
  );
  for (const s of dockerfile.stages) {
    assert.doesNotMatch(runText(s), /\bnpm (install|i)\b/, `stage ${s.name ?? s.index}: npm install instead of npm ci`);
  }
  // COPY --from must name an earlier stage.
  for (const s of dockerfile.stages) {
    for (const op of copyOps(s)) {
      if (!op.from) continue;
      const src = stageByRef(op.from);
      assert.ok(src && src.index < s.index, `line ${op.ins.line}: COPY --from=${op.from} is not an earlier stage`);
    }
  }
});

test('Dockerfile: npm ci --ignore-scripts is safe: no runtime dependency has an install script', () => {
  if (!/--ignore-scripts/.test(dockerfile.stages.map(runText).join('\n'))) return;
  const lock = JSON.parse(readText('package-lock.json'));
  const offenders = Object.entries(lock.packages as Record<string, Obj>)
    .filter(([k, v]) => k !== '' && !v.dev && v.hasInstallScript)
    .map(([k]) => k);
  assert.deepEqual(offenders, [], 'these runtime dependencies need install scripts; revisit --ignore-scripts');
});

test('Dockerfile: runtime code imports only runtime dependencies (the image has no devDependencies)', () => {
  const deps = new Set(Object.keys(packageJson.dependencies ?? {}));
  const builtins = new Set(builtinModules);
  const problems: string[] = [];
  const files = walkFiles('src').filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'));
  // Static and dynamic imports, re-exports and require(); `import type` / `export type` are erased by tsc.
  const re = /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const f of files) {
    const text = readText(f).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const m of text.matchAll(re)) {
      if (m[1]) continue; // type-only
      const spec = m[2] ?? m[3]!;
      if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtins.has(spec)) continue;
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!deps.has(pkg)) problems.push(`${f}: ${spec}`);
    }
  }
  assert.deepEqual(problems, [], 'these packages are not in "dependencies", so `npm ci --omit=dev` leaves them out of the image');
});

test('Dockerfile: runs as a non-root user', () => {
  const user = lastInstr(finalStage, 'USER')?.args[0];
  const distrolessNonroot = /distroless\/.*:nonroot/.test(finalStage.base);
  assert.ok(user !== undefined || distrolessNonroot, 'the final stage sets USER (or is a distroless :nonroot base)');
  if (user !== undefined) {
    const [u] = user.split(':') as [string];
    assert.ok(!['root', '0'].includes(u), `USER ${user} is root`);
    assert.match(u, /^\d+$/, 'numeric USER, so kubelet can verify runAsNonRoot');
    const runAsUser = container.securityContext?.runAsUser ?? podSpec.securityContext?.runAsUser;
    assert.equal(Number(u), runAsUser, 'image USER matches the Deployment runAsUser');
  }
});

test('Dockerfile: the runtime node is the build image\'s, on PATH, and owned by the server user (so page-out can drop its start-up pages)', () => {
  const nodeOp = copyOps(finalStage).find((op) => op.sources.some((s) => /(^|\/)bin\/node$/.test(s)));
  // FROM the Node image, node would be root-owned and the page-out would silently do nothing.
  assert.ok(nodeOp, 'the runtime stage copies node from a build stage, owned by its USER');
  assert.ok(nodeOp.from, 'node comes from a build stage, never from the context');
  const distOp = copyOps(finalStage).find((op) => op.from && op.sources.some((x) => /\/dist\/?$/.test(x)))!;
  assert.equal(nodeOp.from, distOp.from, 'node comes from the stage that built dist/ (the Node release the code is built and tested with)');
  assert.equal(landingPath(nodeOp, nodeOp.sources[0]!, false), '/usr/local/bin/node', 'node lands on the default PATH, where ENTRYPOINT finds it');
  const user = lastInstr(finalStage, 'USER')?.args[0]?.split(':')[0];
  assert.equal(nodeOp.ins.flags.chown?.split(':')[0], user, 'node is owned by the USER the server runs as: Linux pages out a file\'s pages only for its owner or a writer');
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true, 'and the server cannot change it: read-only root filesystem');
});

test('Dockerfile: the runtime base is the Debian release the Node image is built on, and the addon is loaded there', () => {
  const codenames: Record<string, number> = { buster: 10, bullseye: 11, bookworm: 12, trixie: 13 };
  const resolve = (ref: string): string => ref.replace(/^\$\{?(\w+)\}?$/, (_m, name: string) => dockerfile.globalArgs[name] ?? ref);
  const build = stageByRef(copyOps(finalStage).find((op) => op.from && op.sources.some((x) => /\/dist\/?$/.test(x)))!.from!)!;
  const nodeImage = resolve(build.base);
  const runtimeImage = resolve(finalStage.base);
  const codename = /-(buster|bullseye|bookworm|trixie)(-|$)/.exec(nodeImage)?.[1];
  assert.ok(codename, `${nodeImage}: no Debian codename in the tag`);
  if (runtimeImage.startsWith('debian:')) {
    const tag = runtimeImage.split('@')[0]!.split(':')[1]!;
    const release = /^(\d+)/.exec(tag)?.[1] ?? String(codenames[tag.split('-')[0]!] ?? '');
    assert.equal(Number(release), codenames[codename], `${runtimeImage} is not ${codename} (Debian ${codenames[codename]}), the release ${nodeImage} is built on`);
  } else {
    assert.equal(runtimeImage, nodeImage, 'the runtime stage is Debian or the build image itself');
  }
  const addonLine = copyOps(finalStage).find((op) => op.sources.some((x) => /udp_batch\.node$/.test(x)))!.ins.line;
  const userLine = lastInstr(finalStage, 'USER')!.line;
  const check = finalStage.instructions.find((i) => i.cmd === 'RUN' && i.line > addonLine && i.line < userLine && /require\(.*udp_batch\.node/.test(i.args.join(' ')));
  assert.ok(check, 'the runtime stage loads the addon once it is copied (a glibc mismatch fails the build, not the pod)');
});

test('Dockerfile: EXPOSE lists DNS, metrics, health and ready ports', () => {
  const exposed = new Set(
    finalStage.instructions
      .filter((i) => i.cmd === 'EXPOSE')
      .flatMap((i) => i.args)
      .map((p) => (p.includes('/') ? p.toLowerCase() : `${p}/tcp`)),
  );
  for (const p of ['53/udp', '53/tcp', '9153/tcp']) assert.ok(exposed.has(p), `EXPOSE ${p}`);
  for (const name of ['health', 'ready', 'prometheus'] as const) {
    const a = pluginAddress(name);
    if (a) assert.ok(exposed.has(`${a.port}/tcp`), `EXPOSE ${a.port} (${name})`);
  }
});

test('Dockerfile: ENTRYPOINT/CMD run node dist/cli.js -conf /etc/coredns/Corefile', () => {
  const ep = lastInstr(finalStage, 'ENTRYPOINT');
  const cmd = lastInstr(finalStage, 'CMD');
  assert.ok(ep, 'ENTRYPOINT');
  assert.ok(ep.json, 'ENTRYPOINT in exec (JSON) form, so node is PID 1 and gets SIGTERM');
  if (cmd) assert.ok(cmd.json, 'CMD in exec (JSON) form');
  const argv = [...ep.args, ...(cmd?.args ?? [])];
  assert.match(argv[0]!, /(^|\/)node$/);
  const bin: string = typeof packageJson.bin === 'string' ? packageJson.bin : packageJson.bin.clusterdns;
  assert.equal(path.posix.normalize(bin), 'dist/cli.js', 'package.json bin');
  assert.ok(existsSync(path.join(ROOT, 'src', 'cli.ts')), 'dist/cli.js is compiled from src/cli.ts');
  const script = argv[1]!;
  assert.match(script, /(^|\/)dist\/cli\.js$/);
  const i = argv.indexOf('-conf');
  assert.ok(i >= 2, `-conf missing from ${argv.join(' ')}`);
  assert.equal(argv[i + 1], '/etc/coredns/Corefile');

  // The script path really is where the runtime stage puts dist/.
  const distOp = copyOps(finalStage).find((op) => op.from && op.sources.some((s) => /\/dist\/?$/.test(s)))!;
  const scriptAbs = path.posix.resolve(finalWorkdir(finalStage), script);
  assert.equal(scriptAbs, path.posix.join(landingPath(distOp, distOp.sources[0]!, true), 'cli.js'));
  // package.json ("type": "module") sits next to dist/ so Node loads dist/*.js as ESM.
  assert.equal(packageJson.type, 'module');
  const pkgOps = copyOps(finalStage).filter((op) => op.sources.some((s) => path.posix.basename(s) === 'package.json'));
  const appDir = path.posix.dirname(path.posix.dirname(scriptAbs));
  assert.ok(
    pkgOps.some((op) => landingPath(op, 'package.json', false) === path.posix.join(appDir, 'package.json')),
    `package.json must be copied to ${appDir}/package.json`,
  );
  const nmOp = copyOps(finalStage).find((op) => op.sources.some((s) => /node_modules\/?$/.test(s)))!;
  assert.equal(landingPath(nmOp, 'node_modules', true), path.posix.join(appDir, 'node_modules'));
});

test('Dockerfile: the native UDP addon is compiled in the build stage and copied to where the server loads it', () => {
  const addonOp = copyOps(finalStage).find((op) => op.from && op.sources.some((s) => /udp_batch\.node$/.test(s)));
  assert.ok(addonOp, 'the runtime stage copies build/Release/udp_batch.node from a build stage');
  const build = stageByRef(addonOp.from!)!;
  assert.ok(build && build.index < finalStage.index, `COPY --from=${addonOp.from}: no earlier stage`);
  // node-gyp writes it to <package dir>/build/Release.
  assert.equal(path.posix.normalize(addonOp.sources[0]!), path.posix.join(finalWorkdir(build), 'build', 'Release', 'udp_batch.node'));

  // The toolchain node-gyp needs, installed lean, before npm ci / the build.
  const runs = build.instructions.filter((i) => i.cmd === 'RUN');
  const text = (i: Instruction): string => i.args.join(' ');
  const apt = runs.findIndex((i) => /apt-get install/.test(text(i)));
  assert.ok(apt >= 0, 'the build stage installs the compiler with apt-get');
  for (const pkg of ['python3', 'make', 'g\\+\\+']) assert.match(text(runs[apt]!), new RegExp(`\\s${pkg}(\\s|$)`), `apt-get install ${pkg}`);
  assert.match(text(runs[apt]!), /--no-install-recommends/);
  const ci = runs.findIndex((i) => /\bnpm ci\b/.test(text(i)));
  const buildRun = runs.findIndex((i) => /\bnpm run build\b/.test(text(i)));
  assert.ok(ci > apt && buildRun > apt, 'the compiler is installed before npm ci and npm run build');

  // The addon's sources reach the stage before the step that builds it.
  const buildLine = runs[buildRun]!.line;
  const copied = copyOps(build).filter((op) => !op.from && op.ins.line < buildLine).flatMap((op) => op.sources.map((src) => path.posix.normalize(src).replace(/\/$/, '')));
  for (const f of ['binding.gyp', 'native', 'scripts/build-native.mjs']) assert.ok(copied.includes(f), `COPY ${f} before npm run build`);
  assert.equal(packageJson.scripts.install, 'node scripts/build-native.mjs', 'npm ci builds the addon (install script)');
  assert.match(packageJson.scripts.build, /node scripts\/build-native\.mjs/, 'npm run build builds the addon');

  // src/server/udp-batch.ts loads it relative to its compiled self, dist/server/udp-batch.js.
  const m = /new URL\('([^']+udp_batch\.node)', import\.meta\.url\)/.exec(readText('src/server/udp-batch.ts'));
  assert.ok(m, 'src/server/udp-batch.ts names the addon with new URL(..., import.meta.url)');
  const distOp = copyOps(finalStage).find((op) => op.from && op.sources.some((s) => /\/dist\/?$/.test(s)))!;
  const loaded = path.posix.resolve(landingPath(distOp, distOp.sources[0]!, true), 'server', m[1]!);
  assert.equal(landingPath(addonOp, addonOp.sources[0]!, false), loaded, 'the image has the addon where the server looks for it');
});

test('Dockerfile: every COPY source from the build context exists and survives .dockerignore', () => {
  assert.ok(existsSync(path.join(ROOT, '.dockerignore')), '.dockerignore exists');
  const contextSources = dockerfile.stages.flatMap((s) => copyOps(s).filter((op) => !op.from)).flatMap((op) => op.sources);
  assert.ok(contextSources.length > 0);
  const required = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'binding.gyp', 'native', 'scripts/build-native.mjs'];
  const expanded = new Set<string>();
  for (const src of contextSources) {
    assert.ok(!/^(\.\.|\/)/.test(src), `COPY ${src}: outside the build context`);
    const hits = expandContextSource(src);
    assert.ok(hits.length > 0, `COPY ${src}: nothing in the repository matches`);
    for (const h of hits) {
      expanded.add(h);
      if (statSync(path.join(ROOT, h)).isDirectory()) {
        const files = walkFiles(h);
        const kept = files.filter((f) => !isIgnored(f));
        assert.ok(kept.length > 0, `COPY ${src}: .dockerignore excludes everything under ${h}`);
      } else {
        assert.ok(!isIgnored(h), `COPY ${src}: .dockerignore excludes ${h}`);
      }
    }
  }
  for (const r of required) assert.ok(expanded.has(r), `the build needs ${r} from the context`);
  // Everything tsc compiles must reach the build.
  const tsSources = walkFiles('src').filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const lost = tsSources.filter(isIgnored);
  assert.deepEqual(lost, [], '.dockerignore drops sources that tsconfig.build.json compiles');
  // And the bulky / host-specific things stay out of the context.
  for (const p of ['node_modules/yaml/package.json', 'dist/cli.js', '.git/HEAD', 'test/deploy.test.ts', 'build/Release/udp_batch.node', 'scripts/run-tests.mjs']) {
    assert.ok(isIgnored(p), `.dockerignore should exclude ${p}`);
  }
});

test('.dockerignore matcher follows Docker semantics', () => {
  // Guards the helper the previous test relies on.
  const saved = ignoreRules.splice(0, ignoreRules.length, ...parseDockerignore('*\n!src/\nsrc/**/*.test.ts\n/dist\n'));
  try {
    assert.equal(isIgnored('README.md'), true);
    assert.equal(isIgnored('bench/run.ts'), true);
    assert.equal(isIgnored('src/dns/message.ts'), false);
    assert.equal(isIgnored('src/dns/message.test.ts'), true);
    assert.equal(isIgnored('src/a.test.ts'), true);
    assert.equal(isIgnored('dist/cli.js'), true);
  } finally {
    ignoreRules.splice(0, ignoreRules.length, ...saved);
  }
});

test('Dockerfile parser handles continuations, comments, flags and ARG substitution', () => {
  const df = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=node:20.20.2-bookworm-slim',
      'FROM ${BASE} AS b',
      'RUN a \\',
      '    # a comment inside a continuation',
      '    && b',
      'COPY --from=b --chown=1:1 /x/y ./z/',
      'FROM --platform=linux/amd64 $BASE',
      'CMD ["x", "y"]',
    ].join('\n'),
  );
  assert.equal(df.stages.length, 2);
  assert.equal(df.stages[0]!.base, 'node:20.20.2-bookworm-slim');
  assert.equal(df.stages[0]!.name, 'b');
  assert.equal(df.stages[1]!.base, 'node:20.20.2-bookworm-slim');
  assert.deepEqual(df.stages[0]!.instructions[0]!.args, ['a', '&&', 'b']);
  assert.deepEqual(df.stages[0]!.instructions[1]!.flags, { from: 'b', chown: '1:1' });
  assert.deepEqual(df.stages[1]!.instructions[0]!.args, ['x', 'y']);
});

// ===========================================================================
// The real Corefile parser, once it exists.

test('ConfigMap Corefile parses with src/corefile/parser.ts', async (t) => {
  const parserPath = path.join(ROOT, 'src', 'corefile', 'parser.ts');
  if (!existsSync(parserPath)) {
    t.skip('src/corefile/parser.ts not written yet');
    return;
  }
  const mod: Obj = await import(pathToFileURL(parserPath).href);
  if (typeof mod.parseCorefile !== 'function') {
    t.skip('src/corefile/parser.ts does not export parseCorefile yet');
    return;
  }
  const warnings: Obj[] = [];
  const parsed = mod.parseCorefile(corefileText, '/etc/coredns/Corefile', {
    env: {},
    onWarning: (w: Obj) => warnings.push(w),
  });
  assert.deepEqual(warnings, [], 'the shipped Corefile parses without warnings');
  // The real parser and the minimal reader above agree: blocks, keys, directives, args, nesting.
  const fromReal = (ds: Obj[] | undefined): unknown =>
    (ds ?? []).map((d: Obj) => ({ name: d.name, args: d.args, children: fromReal(d.block) }));
  const fromMini = (ds: CfDirective[]): unknown =>
    ds.map((d) => ({ name: d.name, args: d.args, children: fromMini(d.children) }));
  assert.deepEqual(
    parsed.blocks.map((b: Obj) => ({ keys: b.keys, directives: fromReal(b.directives) })),
    corefile.map((b) => ({ keys: b.keys, directives: fromMini(b.directives) })),
  );
  // Server ports as the server will bind them = the container / Service DNS ports checked above.
  const ports = new Set<number>(parsed.blocks.flatMap((b: Obj) => b.addresses.map((a: Obj) => a.port ?? 53)));
  assert.deepEqual([...ports], [...new Set(corefile.flatMap((b) => b.keys.map(serverKeyPort)))]);
});
