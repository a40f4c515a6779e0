import os from 'node:os';
import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { nsidHandler } from './handler.js';

/** `nsid [DATA...]`: the arguments joined by spaces, or the host name. Once per server block. */
export const nsid: PluginSetup = {
  name: 'nsid',
  setup(directives) {
    const r = new DirectiveReader(singleDirective('nsid', directives), 'nsid');
    const args = r.args(0, Infinity);
    r.noBlock();
    const text = args.length > 0 ? args.join(' ') : hostname();
    const data = Buffer.from(text, 'utf8');
    if (data.length > 65535) throw r.error('DATA is longer than an EDNS option can carry (65535 bytes)');
    return { handler: (next) => nsidHandler(data, next) };
  },
};

function hostname(): string {
  try {
    return os.hostname() || 'localhost';
  } catch {
    return 'localhost';
  }
}
