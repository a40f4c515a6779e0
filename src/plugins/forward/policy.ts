/** The order in which upstreams are tried for one query (CoreDNS plugin/forward/policy.go). */

export type PolicyName = 'random' | 'round_robin' | 'sequential';

export interface Policy {
  readonly name: PolicyName;
  list<T>(upstreams: readonly T[]): T[];
}

/** A random permutation (for two upstreams: swapped half the time). */
export function randomPolicy(): Policy {
  return {
    name: 'random',
    list<T>(p: readonly T[]): T[] {
      const out = [...p];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
}

/** Each query starts one further along; the rest follow in configured order, the starting one left out. */
export function roundRobinPolicy(): Policy {
  let robin = 0;
  return {
    name: 'round_robin',
    list<T>(p: readonly T[]): T[] {
      robin = (robin + 1) >>> 0;
      const i = robin % p.length;
      return [p[i]!, ...p.slice(0, i), ...p.slice(i + 1)];
    },
  };
}

/** Always the configured order. */
export function sequentialPolicy(): Policy {
  return { name: 'sequential', list: <T>(p: readonly T[]): T[] => [...p] };
}

export function policyByName(name: string): Policy | undefined {
  switch (name) {
    case 'random': return randomPolicy();
    case 'round_robin': return roundRobinPolicy();
    case 'sequential': return sequentialPolicy();
    default: return undefined;
  }
}
