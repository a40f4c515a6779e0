/** The README stays true to the code: every error code, plugin and CLI flag is documented. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../src/errors.js';
import { allPlugins } from '../src/plugins/index.js';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every error code', () => {
    for (const code of Object.values(ErrorCodes)) assert.ok(readme.includes(`\`${code}\``), `${code} missing from README`);
  });

  it('lists every compiled-in plugin with its README', () => {
    for (const name of allPlugins().keys()) {
      assert.ok(readme.includes(`[${name}](src/plugins/${name}/README.md)`), `plugin ${name} missing from the README table`);
      assert.ok(fs.existsSync(new URL(`../src/plugins/${name}/README.md`, import.meta.url)), `src/plugins/${name}/README.md missing`);
    }
  });

  it('gives the test command CI runs', () => {
    const ci = fs.readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
    assert.match(ci, /^npm test$/m);
    assert.match(readme, /^npm test\b/m);
  });
});
