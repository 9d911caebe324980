import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { packageList } from './image.js';

// `amber image build --packages/--recipe` reach the image inputs: each set resolves to its own image id.
// `--dry-run` resolves the inputs (apt-cache, hashes) without a build, which takes minutes here.
const BIN = fileURLToPath(new URL('../../bin/amber.js', import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'amber-image-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function amber(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function dryRunId(...flags: string[]): Promise<string> {
  const r = await amber(['image', 'build', '--dry-run', '--cache-dir', join(dir, 'cache'), ...flags]);
  assert.equal(r.code, 0, r.stderr);
  const id = /^image ([0-9a-f]{16}) is not built \(dry run\)$/m.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  return id;
}

describe('amber image build', () => {
  it('splits --packages on commas and across repeats', () => {
    assert.deepEqual(packageList(' jq, ripgrep ,'), ['jq', 'ripgrep']);
    assert.deepEqual(packageList('tree', ['jq']), ['jq', 'tree']);
  });

  it('--packages and --recipe change the image id; the same package set gives the same id', async () => {
    const recipe = join(dir, 'recipe.json');
    await writeFile(recipe, JSON.stringify({ packages: ['jq'], run: ['echo hi > /etc/motd'] }));
    const packagesOnly = join(dir, 'packages-only.json');
    await writeFile(packagesOnly, JSON.stringify({ packages: ['jq'] }));
    const [base, withJq, viaRecipe, withRun] = await Promise.all([
      dryRunId(),
      dryRunId('--packages', 'jq,bash'), // bash is in the default set already
      dryRunId('--recipe', packagesOnly),
      dryRunId('--recipe', recipe),
    ]);
    assert.notEqual(withJq, base);
    assert.equal(viaRecipe, withJq);
    assert.notEqual(withRun, withJq);
  });

  it('a bad package name or recipe is a clear invalid_input error', async () => {
    const bad = await amber(['image', 'build', '--dry-run', '--packages', 'Bad_Name']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[invalid_input\] "Bad_Name" is not a Debian package name/);
    const recipe = join(dir, 'bad.json');
    await writeFile(recipe, '{"packages": "jq"}');
    const badRecipe = await amber(['image', 'build', '--dry-run', '--recipe', recipe]);
    assert.equal(badRecipe.code, 1);
    assert.match(
      badRecipe.stderr,
      /\[invalid_input\] .*bad\.json: expected \{"packages": \[string\], "run": \[string\]\}/,
    );
    const missing = await amber(['image', 'build', '--dry-run', '--recipe', join(dir, 'missing.json')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[invalid_input\] cannot read the recipe/);
  });
});
