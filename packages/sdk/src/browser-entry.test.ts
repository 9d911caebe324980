// The browser entry must bundle for a browser: no node: modules, no `ws`. esbuild refuses Node built-ins
// on platform "browser", so a build that succeeds is the check.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

it('the browser entry bundles for a browser without Node modules or ws', async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(
    inputs.every((f) => !f.includes('node_modules/ws/')),
    `ws was bundled: ${inputs.join(', ')}`,
  );
  assert.ok(!inputs.some((f) => f.endsWith('node.ts')), 'node.ts was bundled');
  const text = result.outputFiles[0]?.text ?? '';
  assert.doesNotMatch(text, /from ["']node:/);
  assert.match(text, /Sandbox = class/);
});
