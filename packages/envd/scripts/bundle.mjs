// Bundles the guest agent into one CommonJS file for the guest image (no node_modules in the VM).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(pkg, 'src/main.ts')],
  outfile: join(pkg, 'dist/envd.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  conditions: ['amber-source'],
  sourcemap: false,
  minify: false,
  logLevel: 'warning',
});
