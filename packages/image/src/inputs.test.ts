// The image cache key: it must change whenever an input that shapes the image's bytes changes (or a stale
// image would boot), and only then (or every path change would rebuild a 2 GiB image). No VM, no build.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ImageInputs, imageId, resolveInputs } from './inputs.js';

test('the image id follows the bytes of envd and node, not their paths', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'amber-image-inputs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const envd = join(dir, 'envd.mjs');
  const node = join(dir, 'node');
  await writeFile(envd, 'console.log("envd v1");\n');
  await writeFile(node, 'node binary v1');
  const first = await resolveInputs({ envdPath: envd, nodePath: node });
  const id = imageId(first);
  assert.match(id, /^[0-9a-f]{16}$/);

  await writeFile(envd, 'console.log("envd v2");\n');
  const envdChanged = imageId(await resolveInputs({ envdPath: envd, nodePath: node }));
  assert.notEqual(envdChanged, id, 'a changed guest agent is a new image');

  await writeFile(node, 'node binary v2');
  const nodeChanged = imageId(await resolveInputs({ envdPath: envd, nodePath: node }));
  assert.notEqual(nodeChanged, envdChanged, 'a changed node binary is a new image');

  // Each resolve asks apt for the kernel and busybox versions (slow on a loaded machine): three only.
  // That the same bytes at another path are the same image is checked on the pure function below.
});

test('every input that shapes the image changes its id', () => {
  const base: ImageInputs = {
    recipe: 2,
    suite: 'bookworm',
    mirror: 'http://mirror.invalid/debian',
    kernelPackage: 'linux-image-6.1.0-1-cloud-amd64-unsigned',
    kernelVersion: '6.1.1-1',
    busyboxVersion: '1:1.35.0-4',
    nodePath: '/usr/bin/node',
    nodeSha256: 'a'.repeat(64),
    envdPath: '/x/envd.mjs',
    envdSha256: 'b'.repeat(64),
    guestAddonPath: '/x/amber_guest.node',
    guestAddonSha256: '1'.repeat(64),
    packages: ['curl', 'python3'],
    run: [],
    guestFilesSha256: 'c'.repeat(64),
    rootfsSizeMiB: 2048,
  };
  const id = imageId(base);
  const changes: Partial<ImageInputs>[] = [
    { recipe: 3 },
    { suite: 'trixie' },
    { mirror: 'http://other.invalid/debian' },
    { kernelPackage: 'linux-image-6.1.0-2-cloud-amd64-unsigned' },
    { kernelVersion: '6.1.1-2' },
    { busyboxVersion: '1:1.36.0-1' },
    { nodeSha256: 'd'.repeat(64) },
    { envdSha256: 'e'.repeat(64) },
    { guestAddonSha256: '2'.repeat(64) },
    { packages: ['curl', 'git', 'python3'] },
    { run: ['echo hi > /etc/motd'] },
    { guestFilesSha256: 'f'.repeat(64) },
    { rootfsSizeMiB: 4096 },
  ];
  for (const change of changes) assert.notEqual(imageId({ ...base, ...change }), id, JSON.stringify(change));
  assert.equal(
    imageId({ ...base, nodePath: '/opt/node', envdPath: '/y/envd.mjs', guestAddonPath: '/y/a.node' }),
    id,
    'paths are not inputs',
  );
  // Every field is either covered above or a path: a new input must be added here too.
  const covered = new Set([
    ...changes.flatMap((c) => Object.keys(c)),
    'nodePath',
    'envdPath',
    'guestAddonPath',
  ]);
  assert.deepEqual(
    Object.keys(base).filter((k) => !covered.has(k)),
    [],
  );
});
