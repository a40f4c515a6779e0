import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { anyHandler } from './handler.js';

/** `any`: no arguments, no block. */
export const any: PluginSetup = {
  name: 'any',
  setup(directives) {
    const r = new DirectiveReader(singleDirective('any', directives), 'any');
    r.args(0, 0);
    r.noBlock();
    return { handler: anyHandler };
  },
};
