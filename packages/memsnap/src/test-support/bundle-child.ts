// Bundles a test child into one plain .mjs so each spawn starts as bare Node (~0.07 s) instead of through
// tsx (~0.3 s): the crash test starts a hundred children. @amber/native is bundled from source too; its
// addon is loaded with createRequire(import.meta.url), so import.meta.url is pinned to native's own source
// file and the .node path resolves as it does unbundled.
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const nativeBinding = fileURLToPath(new URL('../../../native/src/binding.ts', import.meta.url));

export async function bundleChild(entry: string, outDir: string): Promise<string> {
  const outfile = join(outDir, 'child.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['amber-source'],
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(nativeBinding).href) },
    logLevel: 'error',
  });
  return outfile;
}
