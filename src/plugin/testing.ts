/**
 * Test support: ProcessServices for plugin setup tests that run no server. HTTP routes are
 * accepted and ignored; resolve/explain fail unless a test supplies them.
 */
import type { ProcessServices } from './types.js';

export function fakeProcessServices(overrides: Partial<ProcessServices> = {}): ProcessServices {
  return {
    http: { route: async () => () => {} },
    lifecycle: { setLameduck: () => () => {}, shuttingDown: false },
    quiet: true,
    notReady: () => [],
    reload: async () => true,
    resolve: async () => {
      throw new Error('not in this test');
    },
    explain: async () => {
      throw new Error('not in this test');
    },
    ...overrides,
  };
}
