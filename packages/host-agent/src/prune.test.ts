// `amber image prune` and `amber doctor` on real files, namespaces and host facilities (no VM needed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from './config.js';
import { checkHost } from './host-checks.js';
import { applyPrune, planPrune } from './prune.js';

const root = mkdtempSync(join(tmpdir(), 'amber-prune-test-'));
const oldNamespace = `amber-${'p'.repeat(14)}${process.pid.toString(36).padStart(6, '0').slice(-6)}`;
after(() => {
  rmSync(root, { recursive: true, force: true });
  // Normally already removed by the prune under test.
  if (existsSync(`/run/netns/${oldNamespace}`)) execFileSync('ip', ['netns', 'del', oldNamespace]);
});

/** A cached image as @amber/image lays it out (manifest and files), `ageHours` old. */
function image(cacheDir: string, id: string, ageHours: number): string {
  const dir = join(cacheDir, 'images', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ id, files: {} }));
  const at = new Date(Date.now() - ageHours * 3600_000);
  utimesSync(dir, at, at);
  return dir;
}

test('prune removes what nothing uses and keeps what something does', async () => {
  const home = join(root, 'home');
  const cacheDir = join(root, 'cache');
  const shmDir = join(root, 'shm');
  mkdirSync(shmDir, { recursive: true });
  const current = image(cacheDir, 'current000000000', 48);
  const bySandbox = image(cacheDir, 'sandbox000000000', 48);
  const byTemplate = image(cacheDir, 'template00000000', 48);
  const recent = image(cacheDir, 'recent0000000000', 1);
  const unused = image(cacheDir, 'unused0000000000', 48);
  mkdirSync(join(home, 'sandboxes', 'sb1', 'snapshot'), { recursive: true });
  writeFileSync(
    join(home, 'sandboxes', 'sb1', 'sandbox.json'),
    JSON.stringify({ imageId: 'sandbox000000000' }),
  );
  const halfWritten = join(home, 'sandboxes', 'sb1', 'snapshot', 'working-set.bin.tmp-0123abcd');
  writeFileSync(halfWritten, 'x');
  mkdirSync(join(home, 'templates', 't1'), { recursive: true });
  writeFileSync(
    join(home, 'templates', 't1', 'template.json'),
    JSON.stringify({ imageId: 'template00000000' }),
  );
  const layers = join(cacheDir, 'layers');
  for (const [name, age] of [
    ['mmdebstrap-new', 1],
    ['mmdebstrap-old', 100],
  ] as const) {
    mkdirSync(join(layers, name), { recursive: true });
    writeFileSync(join(layers, name, 'complete'), '');
    const at = new Date(Date.now() - age * 3600_000);
    utimesSync(join(layers, name, 'complete'), at, at);
  }
  const deadBuild = join(layers, '.tmp-mmdebstrap-abc-999999999');
  mkdirSync(deadBuild);
  const liveBuild = join(layers, `.tmp-mmdebstrap-abc-${process.pid}`);
  mkdirSync(liveBuild);
  execFileSync('ip', ['netns', 'add', oldNamespace]);

  const config = loadConfig({ home, cacheDir, shmDir });
  const plan = await planPrune(config, { currentImageId: 'current000000000' });
  const targets = plan.items.map((i) => i.target);
  for (const gone of [unused, join(layers, 'mmdebstrap-old'), deadBuild, halfWritten, oldNamespace])
    assert.ok(targets.includes(gone), `${gone} is pruned: ${JSON.stringify(plan.items)}`);
  for (const kept of [current, bySandbox, byTemplate, recent, join(layers, 'mmdebstrap-new'), liveBuild])
    assert.ok(!targets.includes(kept), `${kept} is kept`);
  assert.deepEqual(plan.kept.map((k) => k.id).sort(), [
    'current000000000',
    'recent0000000000',
    'sandbox000000000',
    'template00000000',
  ]);

  // A dry run touched nothing; applying the plan removes exactly it.
  assert.ok(existsSync(unused) && existsSync(halfWritten));
  await applyPrune(plan);
  for (const gone of [unused, deadBuild, halfWritten]) assert.equal(existsSync(gone), false);
  for (const kept of [current, bySandbox, byTemplate, recent, liveBuild]) assert.ok(existsSync(kept));
  assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(oldNamespace));

  // With an agent running on the home, its leftovers are not touched.
  writeFileSync(halfWritten, 'x');
  writeFileSync(join(home, 'agent.pid'), `${process.pid}\n`);
  const busy = await planPrune(config, { currentImageId: 'current000000000' });
  assert.ok(!busy.items.some((i) => i.target === halfWritten));
  assert.match(busy.skipped.join('\n'), /an agent runs on/);
});

test('doctor reports every check with a status and a reason', async () => {
  const checks = await checkHost(loadConfig({ home: root }));
  assert.deepEqual(
    checks.map((c) => c.name),
    [
      'qemu',
      'kvm',
      'userfaultfd',
      'disk (home)',
      'disk (cache)',
      'disk (guest RAM)',
      'memory',
      'cgroups',
      'nftables',
    ],
  );
  for (const c of checks) {
    assert.match(c.status, /^(ok|warn|fail)$/);
    assert.ok(c.detail.length > 0);
  }
  // This machine: QEMU installed, userfaultfd works.
  assert.equal(checks.find((c) => c.name === 'qemu')?.status, 'ok');
  assert.notEqual(checks.find((c) => c.name === 'userfaultfd')?.status, 'fail');
});
