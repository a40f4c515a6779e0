/**
 * The `yaml` package, loaded on first use. Only a kubeconfig or a snapshot file needs it; the
 * deployed server (in-cluster credentials) and `endpoint` never read YAML, and importing the
 * package costs ~7 MB of RSS and ~1 MB of heap for nothing (measured on Node 20.20: an import of
 * `yaml` after `node:http`, RSS and heapUsed after gc). It is CommonJS under Node's `node`
 * export condition, so a synchronous require keeps its callers synchronous.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let loaded: Yaml | undefined;

export function yaml(): Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as Yaml);
}
