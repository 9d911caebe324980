#!/usr/bin/env node
// Runs every *.test.ts under the given paths (default: packages, bench and scripts) with node:test through
// tsx, resolving workspace packages to their TypeScript sources ("amber-source" export condition). Node 20
// does not expand globs, so the files are listed here. Paths are taken from the repository root first (a
// package's `npm test` runs in the package's directory), then from the current directory.
//
// The last line of the output is always "N passed, N failed" (", N skipped" when some were): CI reads it.
// Environment: AMBER_SKIP_BUILD=1 skips `npm run build`; AMBER_TEST_CONCURRENCY (files at once, default 1);
// AMBER_TEST_TIMEOUT_MS (per test and hook, default 20 min; see test-timeout.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { namespaces, withMadeTime } from './test-host-leftovers.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const args = process.argv.slice(2);
const paths = args.length > 0 ? args : ['packages', 'bench', 'scripts'];

/** Ends the run with the summary line, after the reasons, if any. */
function finish({ passed = 0, failed = 0, skipped = 0 }, reasons = []) {
  for (const reason of reasons) console.log(reason);
  const skippedNote = skipped > 0 ? `, ${skipped} skipped` : '';
  console.log(`\n${passed} passed, ${failed} failed${skippedNote}`);
  process.exit(failed > 0 ? 1 : 0);
}

/** Test sources only: never build output (stale dist/*.test.js copies), dependencies or hidden folders. */
function findTests(dir, out) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'build' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const missing = [];
const files = paths.flatMap((path) => {
  const abs = [resolve(root, path), resolve(process.cwd(), path)].find((p) => existsSync(p));
  if (!abs) {
    missing.push(path);
    return [];
  }
  return statSync(abs).isDirectory() ? findTests(abs, []) : [abs];
});
files.sort();
if (missing.length > 0)
  finish(
    { failed: missing.length },
    missing.map((p) => `no such test file or folder: ${p}`),
  );
if (files.length === 0) finish({}, [`no test files under ${paths.join(', ')}: nothing to run`]);

if (process.env.AMBER_SKIP_BUILD !== '1') {
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) finish({ failed: 1 }, ['the build failed: no test was run']);
}

const summaryDir = mkdtempSync(join(tmpdir(), 'amber-test-summary-'));
const summaryFile = join(summaryDir, 'summary.json');
const leftoverLog = join(summaryDir, 'leftovers.log');
const concurrency = process.env.AMBER_TEST_CONCURRENCY ?? '1';
const namespacesBefore = new Set(namespaces());
const result = spawnSync(
  process.execPath,
  [
    '--conditions=amber-source',
    '--import',
    'tsx',
    '--import',
    join(root, 'scripts/test-timeout.mjs'),
    '--import',
    join(root, 'scripts/test-host-leftovers.mjs'),
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts/summary-reporter.mjs')}`,
    `--test-reporter-destination=${summaryFile}`,
    ...files.map((f) => relative(root, f)),
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, AMBER_LEFTOVER_LOG: leftoverLog } },
);
// Not a failure (each test checks what its own agents leave), but named, so a leak can be traced.
const leftovers = existsSync(leftoverLog) ? readFileSync(leftoverLog, 'utf8').trim().split('\n') : [];
for (const line of leftovers) console.log(`host leftover: ${line}`);
// Made after the file that made it had ended (by a process it left running): named by time only.
const named = leftovers.join('\n');
for (const name of namespaces())
  if (!namespacesBefore.has(name) && !named.includes(name))
    console.log(`host leftover: made after its test file ended: ${withMadeTime(name)}`);

let summary = { passed: 0, failed: 0, skipped: 0, failures: [] };
try {
  summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
} catch {
  // No summary: node:test itself died; the exit status below still makes the run fail.
}
rmSync(summaryDir, { recursive: true, force: true });

const reasons = summary.failures.map((f) => {
  const where = f.file ? ` (${relative(root, f.file)}${f.line ? `:${f.line}` : ''})` : '';
  return `failed ${f.kind} "${f.name}"${where}: ${f.message}`;
});
if (result.status !== 0 && summary.failed === 0) {
  // node:test failed without reporting a failing test or suite: never let the line say "0 failed".
  summary.failed = 1;
  reasons.push(`node --test exited with ${result.status ?? result.signal} without reporting a failed test`);
}
if (reasons.length > 0) reasons.unshift('');
finish(summary, reasons);
