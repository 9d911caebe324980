// The test runner, run on small fixture files in a subprocess: what it counts, where it looks, when it
// gives up on a test, and when the build recompiles the native addon.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain .mjs build script without type declarations
import { nativeBuildState, recordNativeBuild } from './build-native.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const runner = join(root, 'scripts', 'run-tests.mjs');
const SUMMARY = /^\d+ passed, \d+ failed(, \d+ skipped)?$/;

function run(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  // node:test marks the processes it runs (NODE_TEST_CONTEXT); a runner started from one must not
  // think it is a test file itself.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  const result = spawnSync(process.execPath, [runner, ...args], {
    cwd: options.cwd ?? root,
    env: { ...env, AMBER_SKIP_BUILD: '1', ...options.env },
    encoding: 'utf8',
  });
  const lines = result.stdout.trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  assert.match(last, SUMMARY, `the last line is the summary:\n${result.stdout}\n${result.stderr}`);
  return { status: result.status, last, output: `${result.stdout}\n${result.stderr}` };
}

describe('the test runner', () => {
  test('counts a describe body that throws and a failing after hook in a describe', () => {
    const r = run(['scripts/test-fixtures/describe-failures.fixture.ts']);
    assert.equal(r.last, '1 passed, 2 failed, 1 skipped');
    assert.equal(r.status, 1);
    assert.match(r.output, /failed suite "a describe whose body throws".*the describe body threw/);
    assert.match(r.output, /failed suite "a describe whose after hook fails".*the after hook failed/);
  });

  test('takes paths from the repository root when run from inside a package (npm test -w)', () => {
    const r = run(['scripts/test-fixtures/pass.fixture.ts'], { cwd: join(root, 'packages', 'memsnap') });
    assert.equal(r.last, '1 passed, 0 failed');
    assert.equal(r.status, 0);
  });

  test("every package's test script names a folder that exists from the root", () => {
    for (const dir of readdirSync(join(root, 'packages'))) {
      const manifest = join(root, 'packages', dir, 'package.json');
      if (!existsSync(manifest)) continue;
      const script: string | undefined = JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test;
      if (!script) continue;
      const match = /run-tests\.mjs (\S+)$/.exec(script);
      assert.ok(match?.[1], `${dir}: test script "${script}" runs scripts/run-tests.mjs on a path`);
      assert.ok(existsSync(join(root, match[1])), `${dir}: ${match[1]} exists from the repository root`);
    }
  });

  test('a folder without test files runs nothing, not stale dist/*.test.js copies', async () => {
    const pkg = await mkdtemp(join(tmpdir(), 'amber-runner-empty-'));
    try {
      const marker = join(pkg, 'stale-ran');
      await mkdir(join(pkg, 'src'));
      await writeFile(join(pkg, 'src', 'index.ts'), 'export const x = 1;\n');
      await mkdir(join(pkg, 'dist'));
      await writeFile(
        join(pkg, 'dist', 'index.test.js'),
        `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`,
      );
      const r = run([pkg]);
      assert.equal(r.last, '0 passed, 0 failed');
      assert.equal(r.status, 0);
      assert.match(r.output, /nothing to run/);
      assert.equal(existsSync(marker), false, 'the stale compiled test did not run');
    } finally {
      await rm(pkg, { recursive: true, force: true });
    }
  });

  test('a missing path fails the run', () => {
    const r = run(['packages/no-such-package']);
    assert.equal(r.last, '0 passed, 1 failed');
    assert.equal(r.status, 1);
    assert.match(r.output, /no such test file or folder: packages\/no-such-package/);
  });

  test('a test that never ends times out by name; the tests after it still run and the run ends', () => {
    const r = run(['scripts/test-fixtures/hang.fixture.ts'], {
      env: { AMBER_TEST_TIMEOUT_MS: '1500', AMBER_TEST_EXIT_GRACE_MS: '1000' },
    });
    assert.equal(r.last, '1 passed, 1 failed');
    assert.equal(r.status, 1);
    assert.match(
      r.output,
      /failed test "never finishes" \(scripts\/test-fixtures\/hang\.fixture\.ts:5\): test timed out after 1500ms/,
    );
    assert.match(r.output, /✔ runs after the hung one/);
    assert.match(r.output, /every test finished 1000 ms ago but the process is still running/);
  });
});

describe('the native build', () => {
  test('is redone when a C source, binding.gyp or an output changes, and only then', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'amber-native-state-'));
    try {
      await mkdir(join(dir, 'csrc', 'shim'), { recursive: true });
      await mkdir(join(dir, 'build', 'Release'), { recursive: true });
      await writeFile(join(dir, 'binding.gyp'), '{"targets": []}\n');
      await writeFile(join(dir, 'csrc', 'a.cc'), 'int a() { return 1; }\n');
      await writeFile(join(dir, 'csrc', 'shim', 'b.c'), 'int b(void) { return 2; }\n');
      for (const name of ['amber_native.node', 'qemu-uffd-shim.so', 'uffd-helper'])
        await writeFile(join(dir, 'build', 'Release', name), '');

      assert.equal(nativeBuildState(dir).state, 'rebuild', 'never recorded');
      recordNativeBuild(dir);
      assert.deepEqual(nativeBuildState(dir), { state: 'up-to-date', why: '' });

      await writeFile(join(dir, 'csrc', 'shim', 'b.c'), 'int b(void) { return 3; }\n');
      assert.deepEqual(nativeBuildState(dir), { state: 'build', why: 'csrc/ changed' });
      recordNativeBuild(dir);
      await writeFile(join(dir, 'csrc', 'new.h'), '#pragma once\n');
      assert.equal(nativeBuildState(dir).state, 'build', 'a new header counts');
      recordNativeBuild(dir);

      await writeFile(join(dir, 'binding.gyp'), '{"targets": [{}]}\n');
      assert.equal(nativeBuildState(dir).state, 'rebuild', 'binding.gyp changed');
      recordNativeBuild(dir);
      assert.equal(nativeBuildState(dir).state, 'up-to-date');

      await rm(join(dir, 'build', 'Release', 'uffd-helper'));
      assert.deepEqual(nativeBuildState(dir), { state: 'rebuild', why: 'missing uffd-helper' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the repository's native build is recorded as up to date after npm run build", () => {
    assert.deepEqual(nativeBuildState(join(root, 'packages', 'native')), { state: 'up-to-date', why: '' });
  });
});
