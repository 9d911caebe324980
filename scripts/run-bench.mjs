#!/usr/bin/env node
// `npm run bench` runs every bench/<name>.ts; `npm run bench -- <name> [...]` runs the named ones.
// Each prints JSON lines {"metric","value","unit"[,"baseline","ratio"]} on stdout; progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const benchDir = join(root, 'bench');
const all = readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && f !== 'index.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.length > 2 ? process.argv.slice(2) : all;
let failed = 0;
for (const name of names) {
  const file = join(benchDir, `${name}.ts`);
  if (!existsSync(file)) {
    console.error(`no benchmark named ${name} (have: ${all.join(', ')})`);
    process.exit(2);
  }
  console.error(`# bench ${name}`);
  const result = spawnSync(process.execPath, ['--conditions=amber-source', '--import', 'tsx', file], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
