/**
 * Cluster state from a file instead of an API server: what `kubectl get svc,endpointslices,ns -A
 * -o yaml` (or `-o json`) writes, a JSON array of objects, or several YAML documents each holding an
 * object or a List. Objects of other kinds are skipped. watchSnapshotFile() feeds an ObjectSink and
 * follows the file: on every change it is read again and only the difference is delivered.
 * A broken file (and an empty one: a file being rewritten in place looks like that) is reported with
 * ErrorCodes.SNAPSHOT_INVALID and the state from the last good read is kept.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Node as YamlNode } from 'yaml';
import { yaml } from './lazy-yaml.js';
import { ConfigError, ErrorCodes } from '../../errors.js';
import type { ObjectSink, SlimEndpointSlice, SlimNamespace, SlimPod, SlimService } from '../objects.js';
import { isObj } from './json-shape.js';
import { toSlimEndpointSlice, toSlimNamespace, toSlimPod, toSlimService } from './slim.js';

export interface ParsedObjects {
  namespaces: SlimNamespace[];
  services: SlimService[];
  endpointSlices: SlimEndpointSlice[];
  pods: SlimPod[];
  /** Items of other kinds, and EndpointSlices without the kubernetes.io/service-name label. */
  skipped: number;
}


/** A document of the file and where its items start, for error messages. */
interface Doc {
  value: unknown;
  /** 1-based line of the document, or of its item `i`; 0 when unknown. */
  line(item?: number): number;
}

class ShapeError extends Error {
  constructor(readonly docIndex: number, readonly item: number | undefined, message: string) {
    super(message);
  }
}

function invalid(file: string, line: number, detail: string): ConfigError {
  return new ConfigError(ErrorCodes.SNAPSHOT_INVALID, file, line, `snapshot: ${detail}`);
}

function yamlDocs(text: string, file: string): Doc[] {
  const { isMap, isSeq, LineCounter, parseAllDocuments } = yaml();
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter });
  const docs: Doc[] = [];
  for (const d of parsed) {
    const e = d.errors[0];
    if (e) throw invalid(file, e.linePos?.[0].line ?? 0, e.message.split('\n')[0]!.replace(/:$/, ''));
    const lineAt = (n: YamlNode | null | undefined): number => (n?.range ? lineCounter.linePos(n.range[0]).line : 0);
    const contents = d.contents;
    docs.push({
      value: d.toJS({ maxAliasCount: 100 }),
      line(item?: number): number {
        if (item === undefined) return lineAt(contents);
        const seq = isSeq(contents) ? contents : isMap(contents) ? contents.get('items', true) : undefined;
        return isSeq(seq) ? lineAt(seq.items[item] as YamlNode | undefined) || lineAt(contents) : lineAt(contents);
      },
    });
  }
  return docs;
}

const kindOfList = (listKind: unknown): string | undefined =>
  typeof listKind === 'string' && listKind.endsWith('List') && listKind !== 'List' ? listKind.slice(0, -4) : undefined;

function interpret(docs: Doc[]): ParsedObjects {
  const byKey = {
    Namespace: new Map<string, SlimNamespace>(),
    Service: new Map<string, SlimService>(),
    EndpointSlice: new Map<string, SlimEndpointSlice>(),
    Pod: new Map<string, SlimPod>(),
  };
  let skipped = 0;
  let objects = 0;
  docs.forEach((doc, di) => {
    const v = doc.value;
    if (v === null || v === undefined) return;
    let items: unknown[];
    let defaultKind: string | undefined;
    let single = false;
    if (Array.isArray(v)) {
      items = v;
    } else if (isObj(v) && Array.isArray(v.items)) {
      items = v.items;
      defaultKind = kindOfList(v.kind);
    } else if (isObj(v) && typeof v.kind === 'string') {
      items = [v];
      single = true;
    } else {
      throw new ShapeError(di, undefined, 'expected a Kubernetes object, a List with items, or an array of objects');
    }
    items.forEach((item, ii) => {
      const at = single ? undefined : ii;
      const where = single ? 'the object' : `item ${ii}`;
      if (!isObj(item)) throw new ShapeError(di, at, `${where} is not an object`);
      const kind = typeof item.kind === 'string' ? item.kind : defaultKind;
      if (!kind) throw new ShapeError(di, at, `${where} has no kind`);
      objects++;
      if (kind !== 'Namespace' && kind !== 'Service' && kind !== 'EndpointSlice' && kind !== 'Pod') {
        skipped++;
        return;
      }
      const meta = isObj(item.metadata) ? item.metadata : undefined;
      if (!meta || typeof meta.name !== 'string' || meta.name === '') throw new ShapeError(di, at, `${where} (${kind}) has no metadata.name`);
      // As kubectl apply does: a namespaced object without a namespace is in "default".
      const o = kind !== 'Namespace' && (typeof meta.namespace !== 'string' || meta.namespace === '')
        ? { ...item, metadata: { ...meta, namespace: 'default' } }
        : item;
      const key = `${String((o.metadata as Record<string, unknown>).namespace ?? '')}/${meta.name}`;
      switch (kind) {
        case 'Namespace': {
          const s = toSlimNamespace(o);
          if (s) byKey.Namespace.set(key, s);
          break;
        }
        case 'Service': {
          const s = toSlimService(o);
          if (s) byKey.Service.set(key, s);
          break;
        }
        case 'EndpointSlice': {
          const s = toSlimEndpointSlice(o);
          if (s) byKey.EndpointSlice.set(key, s);
          else skipped++;
          break;
        }
        case 'Pod': {
          const s = toSlimPod(o);
          if (s) byKey.Pod.set(key, s);
          break;
        }
      }
    });
  });
  if (objects === 0 && docs.every((d) => d.value === null || d.value === undefined)) {
    throw new ShapeError(0, undefined, 'no objects (write "items: []" for an empty cluster)');
  }
  return {
    namespaces: [...byKey.Namespace.values()],
    services: [...byKey.Service.values()],
    endpointSlices: [...byKey.EndpointSlice.values()],
    pods: [...byKey.Pod.values()],
    skipped,
  };
}

/** Parses snapshot text; `file` is for error messages. Throws ConfigError(SNAPSHOT_INVALID). */
export function parseSnapshot(text: string, file: string): ParsedObjects {
  if (text.trim() === '') throw invalid(file, 0, 'the file is empty');
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    // JSON.parse is many times faster than the YAML parser on a large `-o json` dump; YAML is only
    // used to find the line of a problem (or for YAML flow syntax that JSON rejects).
    let value: unknown;
    let isJson = true;
    try {
      value = JSON.parse(text);
    } catch {
      isJson = false;
    }
    if (isJson) {
      try {
        return interpret([{ value, line: () => 0 }]);
      } catch (err) {
        if (!(err instanceof ShapeError)) throw err;
      }
    }
  }
  const docs = yamlDocs(text, file);
  try {
    return interpret(docs);
  } catch (err) {
    if (err instanceof ShapeError) throw invalid(file, docs[err.docIndex]?.line(err.item) ?? 0, err.message);
    throw err;
  }
}

/** Reads and parses a snapshot file. Throws ConfigError(SNAPSHOT_INVALID), also when it cannot be read. */
export function loadSnapshot(file: string): ParsedObjects {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(file, 0, `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseSnapshot(text, file);
}

export interface SnapshotWatch {
  /** True once a good read has been delivered to the sink. */
  ready(): boolean;
  whenReady(): Promise<void>;
  stop(): void;
}

type Entry =
  | { kind: 'Namespace'; slim: SlimNamespace; json: string }
  | { kind: 'Service'; slim: SlimService; json: string }
  | { kind: 'EndpointSlice'; slim: SlimEndpointSlice; json: string }
  | { kind: 'Pod'; slim: SlimPod; json: string };

function index(p: ParsedObjects): Map<string, Entry> {
  // Insertion order is delivery order: namespaces first, then what lives in them.
  const m = new Map<string, Entry>();
  for (const s of p.namespaces) m.set(`Namespace//${s.name}`, { kind: 'Namespace', slim: s, json: JSON.stringify(s) });
  for (const s of p.services) m.set(`Service/${s.namespace}/${s.name}`, { kind: 'Service', slim: s, json: JSON.stringify(s) });
  for (const s of p.endpointSlices) m.set(`EndpointSlice/${s.namespace}/${s.name}`, { kind: 'EndpointSlice', slim: s, json: JSON.stringify(s) });
  for (const s of p.pods) m.set(`Pod/${s.namespace}/${s.name}`, { kind: 'Pod', slim: s, json: JSON.stringify(s) });
  return m;
}

function upsert(sink: ObjectSink, e: Entry): void {
  switch (e.kind) {
    case 'Namespace': return sink.upsertNamespace(e.slim);
    case 'Service': return sink.upsertService(e.slim);
    case 'EndpointSlice': return sink.upsertEndpointSlice(e.slim);
    case 'Pod': return sink.upsertPod(e.slim);
  }
}

function remove(sink: ObjectSink, e: Entry): void {
  switch (e.kind) {
    case 'Namespace': return sink.deleteNamespace(e.slim.name);
    case 'Service': return sink.deleteService(e.slim.namespace, e.slim.name);
    case 'EndpointSlice': return sink.deleteEndpointSlice(e.slim.namespace, e.slim.name);
    case 'Pod': return sink.deletePod(e.slim.namespace, e.slim.name);
  }
}

/**
 * Delivers the file's objects to the sink now (synchronously, when the file is good) and after every
 * change to it (stat polling every `intervalMs`, default 1 s: inode, size or mtime changed; an
 * atomic rename counts as a change).
 */
export function watchSnapshotFile(file: string, sink: ObjectSink, logger: Logger, opts: { intervalMs?: number } = {}): SnapshotWatch {
  let current = new Map<string, Entry>();
  let loaded = false;
  let stopped = false;
  let waiters: Array<() => void> = [];

  const reload = (): void => {
    let parsed: ParsedObjects;
    try {
      parsed = loadSnapshot(file);
    } catch (err) {
      const e = err as ConfigError;
      logger.error(
        { code: e.code ?? ErrorCodes.SNAPSHOT_INVALID, file, line: e.line || undefined, err: e },
        `plugin/kubernetes: ${e.message}; keeping the ${loaded ? 'last good state' : 'empty state'}`,
      );
      return;
    }
    const next = index(parsed);
    let upserts = 0;
    let deletes = 0;
    const guarded = (f: () => void, e: Entry): void => {
      try {
        f();
      } catch (err) {
        logger.error({ err, kind: e.kind, file }, `plugin/kubernetes: the sink failed on a ${e.kind} from ${file}`);
      }
    };
    for (const [key, e] of next) {
      if (current.get(key)?.json === e.json) continue;
      upserts++;
      guarded(() => upsert(sink, e), e);
    }
    for (const [key, e] of [...current].reverse()) {
      if (next.has(key)) continue;
      deletes++;
      guarded(() => remove(sink, e), e);
    }
    current = next;
    logger.info(
      { file, objects: next.size, skipped: parsed.skipped, upserts, deletes },
      `plugin/kubernetes: snapshot ${loaded ? 'reloaded' : 'loaded'} from ${file}`,
    );
    if (!loaded) {
      loaded = true;
      for (const w of waiters) w();
      waiters = [];
    }
  };

  // Our own stat polling rather than fs.watchFile: watchFile takes its baseline stat
  // asynchronously, so a file that appears or changes between our first read and that baseline
  // would never be noticed. Here the baseline is the stat taken just before each read.
  const signature = (st: fs.Stats | undefined): string => (st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing');
  let seen = '';
  const readIfChanged = (st: fs.Stats | undefined): void => {
    const sig = signature(st);
    if (sig === seen) return;
    seen = sig;
    reload();
  };
  let statting = false;
  const timer = setInterval(() => {
    if (statting) return;
    statting = true;
    fs.stat(file, (err, st) => {
      statting = false;
      if (!stopped) readIfChanged(err ? undefined : st);
    });
  }, opts.intervalMs ?? 1000);
  let first: fs.Stats | undefined;
  try {
    first = fs.statSync(file);
  } catch {
    first = undefined;
  }
  readIfChanged(first);

  return {
    ready: () => loaded,
    whenReady: () => (loaded ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    stop(): void {
      stopped = true;
      clearInterval(timer);
    },
  };
}
