import { DirectiveReader } from '../../corefile/directive-reader.js';
import { singleDirective } from '../../plugin/single.js';
import type { PluginSetup } from '../../plugin/types.js';
import { SERVER_NAME, VERSION } from '../../version.js';
import { chaosHandler, trim } from './handler.js';

/** What authors.bind answers when the Corefile names no authors (CoreDNS: its OWNERS). */
export const DEFAULT_AUTHORS = ['The clusterdns authors'];

/**
 * `chaos [VERSION] [AUTHORS...]`: VERSION defaults to "clusterdns-<version>", AUTHORS to
 * DEFAULT_AUTHORS. Authors are de-duplicated; every value is cut to 255 bytes.
 */
export const chaos: PluginSetup = {
  name: 'chaos',
  setup(directives) {
    const r = new DirectiveReader(singleDirective('chaos', directives), 'chaos');
    const [version = `${SERVER_NAME}-${VERSION}`, ...authorArgs] = r.args(0, Infinity);
    r.noBlock();
    const authors = authorArgs.length > 0 ? [...new Set(authorArgs.map(trim))].sort() : DEFAULT_AUTHORS;
    const o = { version: trim(version), authors };
    return { handler: (next) => chaosHandler(o, next) };
  },
};
