// The cache's guard against half-built and damaged entries, on small stand-in files (building a real
// image is covered by every VM test, which boot the cached one).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IMAGE_FILES, type ImageManifest, listImages, loadImage, removeStaleTemps } from './cache.js';
import { sha256File } from './inputs.js';

async function fakeEntry(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = {} as ImageManifest['files'];
  for (const name of IMAGE_FILES) {
    await writeFile(join(dir, name), `contents of ${name}\n`.repeat(100));
    files[name] = { size: 100 * `contents of ${name}\n`.length, sha256: await sha256File(join(dir, name)) };
  }
  const manifest = {
    id: 'abcdef0123456789',
    createdAt: new Date(0).toISOString(),
    kernelRelease: 'x',
    files,
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

test('a whole entry loads; truncated, missing, corrupted or manifest-less ones say why', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'amber-image-cache-'));
  t.after(() => rm(cache, { recursive: true, force: true }));
  const dir = join(cache, 'images', 'abcdef0123456789');
  await fakeEntry(dir);
  const whole = await loadImage(dir, true);
  assert.equal(whole.problem, undefined);
  assert.equal(whole.image?.kernel, join(dir, 'vmlinux'));

  await truncate(join(dir, 'initrd.img'), 10);
  assert.match((await loadImage(dir)).problem ?? '', /initrd\.img is 10 bytes, expected/);

  await fakeEntry(dir);
  await writeFile(join(dir, 'rootfs.ext4'), 'X'.repeat(100 * 'contents of rootfs.ext4\n'.length));
  assert.equal((await loadImage(dir)).problem, undefined, 'same size passes the cheap check');
  assert.match((await loadImage(dir, true)).problem ?? '', /rootfs\.ext4 does not match its sha256/);

  await fakeEntry(dir);
  await rm(join(dir, 'vmlinux'));
  assert.match((await loadImage(dir)).problem ?? '', /vmlinux is missing/);

  await rm(join(dir, 'manifest.json'));
  assert.match((await loadImage(dir)).problem ?? '', /no readable manifest/);
  assert.deepEqual(
    (await listImages(cache)).map((i) => [i.id, i.image === undefined]),
    [['abcdef0123456789', true]],
  );
});

test('leftovers of interrupted builds are removed, finished entries are not', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'amber-image-cache-'));
  t.after(() => rm(cache, { recursive: true, force: true }));
  const images = join(cache, 'images');
  await fakeEntry(join(images, 'abcdef0123456789'));
  await mkdir(join(images, '.tmp-abcdef0123456789-4242', 'work'), { recursive: true });
  await removeStaleTemps(images);
  assert.deepEqual(await readdir(images), ['abcdef0123456789']);
  assert.equal((await loadImage(join(images, 'abcdef0123456789'))).problem, undefined);
});
