import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { minimalHandler } from './handler.js';

/** `minimal`: no arguments, no block. */
export const minimal: PluginSetup = {
  name: 'minimal',
  setup(directives) {
    const r = new DirectiveReader(singleDirective('minimal', directives), 'minimal');
    r.args(0, 0);
    r.noBlock();
    return { handler: minimalHandler };
  },
};
