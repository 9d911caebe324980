#!/usr/bin/env node
// Runs every *.test.ts under the given roots (default: all packages and bench) with node:test through tsx,
// resolving workspace packages to their TypeScript sources ("amber-source" export condition).
// Node 20 does not expand globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const args = process.argv.slice(2);
const roots = args.length > 0 ? args : ['packages', 'bench'];

function findTests(dir, out) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'build') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = roots.flatMap((r) => {
  const abs = resolve(process.cwd(), r);
  return statSync(abs).isDirectory() ? findTests(abs, []) : [abs];
});
files.sort();

if (process.env.AMBER_SKIP_BUILD !== '1') {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    console.log('\n0 passed, 1 failed (build failed)');
    process.exit(1);
  }
}

const concurrency = process.env.AMBER_TEST_CONCURRENCY ?? '1';
const result = spawnSync(
  process.execPath,
  [
    '--conditions=amber-source',
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts/summary-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
