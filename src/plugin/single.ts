import { ConfigError, ErrorCodes } from '../errors.js';
import type { Directive } from '../corefile/types.js';

/** The one directive of a plugin that may appear once per server block (CoreDNS's plugin.Error "only once"). */
export function singleDirective(name: string, directives: Directive[]): Directive {
  const [first, second] = directives;
  if (!first) throw new Error(`plugin/${name}: setup called without a directive`);
  if (second) {
    throw new ConfigError(ErrorCodes.COREFILE_PLUGIN, second.file, second.line, `plugin/${name}: this plugin can only be used once per Server Block`);
  }
  return first;
}
