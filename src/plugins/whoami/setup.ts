import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { whoamiHandler } from './handler.js';

/** `whoami`: no arguments. */
export const whoami: PluginSetup = {
  name: 'whoami',
  setup(directives) {
    const r = new DirectiveReader(singleDirective('whoami', directives), 'whoami');
    r.args(0, 0);
    return { handler: () => whoamiHandler };
  },
};
