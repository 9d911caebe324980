// SnapshotDir on real files: base from a sparse RAM file, diffs (a zeroed page reads zero), MergeDiffs,
// garbage that never includes other code's files, clones sharing data by hard link.
import assert from 'node:assert/strict';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ZERO_BUILD_ID } from './build-id.js';
import { cloneSnapshotDir } from './clone.js';
import { bufferMemorySource, openFileMemorySource } from './memory-source.js';
import { SnapshotDir } from './snapshot-dir.js';
import { fillRandom, prng, tempDir } from './test-support/fixture.js';

const K = 4096;

/** A RAM-file stand-in: `size` bytes, holes except where `pages` are written with random data. */
function ramFile(path: string, size: number, pages: number[], seed: number): Buffer {
  const mem = Buffer.alloc(size);
  const rand = prng(seed);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  for (const p of pages) {
    const page = mem.subarray(p * K, (p + 1) * K);
    fillRandom(page, rand);
    writeSync(fd, page, 0, K, p * K);
  }
  closeSync(fd);
  return mem;
}

test('writeBase from a sparse RAM file: holes and zero pages become zero fill, data is packed', async (t) => {
  const dir = tempDir(t);
  const snapDir = join(dir, 'snap');
  mkdirSync(snapDir);
  const size = 1024 * K;
  const mem = ramFile(join(dir, 'ram'), size, [3, 4, 5, 700, 701, 1023], 1);
  // A written page that is all zero: data on disk, but it must not be stored.
  const fd = openSync(join(dir, 'ram'), 'r+');
  writeSync(fd, Buffer.alloc(K), 0, K, 10 * K);
  closeSync(fd);
  const source = await openFileMemorySource(join(dir, 'ram'));
  t.after(() => source.close());
  const ranges = await source.dataRanges?.();
  assert.ok(ranges && ranges.length >= 3 && ranges.length < 10, `holes seen: ${JSON.stringify(ranges)}`);

  const snap = await SnapshotDir.open(snapDir);
  assert.equal(await snap.header(), undefined);
  const h = await snap.writeBase(source);
  assert.equal(h.generation, 0);
  assert.equal(h.baseBuildId, h.buildId);
  assert.deepEqual(h.mappings, [
    { offset: 0, length: 3 * K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: 3 * K, length: 3 * K, buildId: h.buildId, storageOffset: 0 },
    { offset: 6 * K, length: 694 * K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: 700 * K, length: 2 * K, buildId: h.buildId, storageOffset: 3 * K },
    { offset: 702 * K, length: 321 * K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: 1023 * K, length: K, buildId: h.buildId, storageOffset: 5 * K },
  ]);
  assert.equal(statSync(snap.dataFilePath(h.buildId)).size, 6 * K);
  assert.deepEqual(await snap.header(), h);
  assert.deepEqual(await snap.read(0, size), mem);
  assert.deepEqual(readdirSync(snapDir).sort(), ['memfile.header', `memfile.${h.buildId}`].sort());
});

test('diffs overlay the parent; a dirty page that is now zero reads zero, not the parent', async (t) => {
  const snap = await SnapshotDir.open(tempDir(t));
  const rand = prng(2);
  const mem = Buffer.alloc(16 * K);
  fillRandom(mem, rand);
  const base = await snap.writeBase(bufferMemorySource(mem));
  mem.fill(0, 2 * K, 3 * K); // zeroed by the guest
  fillRandom(mem.subarray(5 * K, 5 * K + 100), rand); // a partial write: widened to the block
  const d1 = await snap.writeDiff(bufferMemorySource(mem), [
    [2 * K, 3 * K],
    [5 * K + 10, 5 * K + 20],
    [9 * K, 9 * K], // empty: ignored
  ]);
  assert.equal(d1.generation, 1);
  assert.equal(d1.baseBuildId, base.buildId);
  assert.deepEqual(d1.mappings, [
    { offset: 0, length: 2 * K, buildId: base.buildId, storageOffset: 0 },
    { offset: 2 * K, length: K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: 3 * K, length: 2 * K, buildId: base.buildId, storageOffset: 3 * K },
    { offset: 5 * K, length: K, buildId: d1.buildId, storageOffset: 0 },
    { offset: 6 * K, length: 10 * K, buildId: base.buildId, storageOffset: 6 * K },
  ]);
  assert.deepEqual(await snap.read(0, mem.length), mem);
  assert.deepEqual(await snap.read(2 * K - 3, 7), mem.subarray(2 * K - 3, 2 * K + 4));
  await assert.rejects(snap.read(15 * K, 2 * K), { code: 'bad_range' });

  // A diff whose pages are all zero still gets its (empty) data file: callers stat it.
  mem.fill(0, 0, K);
  const d2 = await snap.writeDiff(bufferMemorySource(mem), [[0, K]]);
  assert.equal(statSync(snap.dataFilePath(d2.buildId)).size, 0);
  assert.deepEqual(await snap.read(0, mem.length), mem);

  const merged = await snap.merge();
  assert.equal(merged.generation, 0);
  assert.equal(merged.baseBuildId, merged.buildId);
  assert.deepEqual(await snap.read(0, mem.length), mem);
  assert.deepEqual(merged.mappings, [
    { offset: 0, length: K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: K, length: K, buildId: merged.buildId, storageOffset: 0 },
    { offset: 2 * K, length: K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: 3 * K, length: 13 * K, buildId: merged.buildId, storageOffset: K },
  ]);
  // The old generations' files went after the commit.
  assert.deepEqual(readdirSync(snap.dir).sort(), ['memfile.header', `memfile.${merged.buildId}`].sort());
});

test('garbage lists unreferenced memfile.* and memsnap temp files, never other files', async (t) => {
  const dir = tempDir(t);
  const snap = await SnapshotDir.open(dir);
  const mem = Buffer.alloc(8 * K, 7);
  const h = await snap.writeBase(bufferMemorySource(mem), {
    buildId: '11111111-1111-4111-8111-111111111111',
  });
  for (const name of [
    'memfile.22222222-2222-4222-8222-222222222222',
    'memfile.old',
    '.tmp-memfile.header.abc123',
    '.tmp-devices.x.state', // another component's temp file
    'devices.state',
    'sandbox.json',
    'memfile', // not memfile.*
  ]) {
    writeFileSync(join(dir, name), 'x');
  }
  mkdirSync(join(dir, 'memfile.somedir'));
  assert.deepEqual(await snap.garbage(), [
    '.tmp-memfile.header.abc123',
    'memfile.22222222-2222-4222-8222-222222222222',
    'memfile.old',
  ]);
  const listed = await snap.garbage();
  assert.deepEqual(await snap.collectGarbage(), listed);
  assert.deepEqual(readdirSync(dir).sort(), [
    '.tmp-devices.x.state',
    'devices.state',
    'memfile',
    `memfile.${h.buildId}`,
    'memfile.header',
    'memfile.somedir',
    'sandbox.json',
  ]);
  await snap.verify();
});

test('build ids: a requested id is used, and one already in the snapshot is refused', async (t) => {
  const snap = await SnapshotDir.open(tempDir(t));
  const id = '33333333-3333-4333-8333-333333333333';
  const mem = Buffer.alloc(4 * K, 1);
  const h = await snap.writeBase(bufferMemorySource(mem), { buildId: id });
  assert.equal(h.buildId, id);
  await assert.rejects(snap.writeDiff(bufferMemorySource(mem), [[0, K]], { buildId: id }), {
    code: 'build_id_in_use',
  });
  await assert.rejects(snap.merge({ buildId: id }), { code: 'build_id_in_use' });
  await assert.rejects(snap.merge({ buildId: 'X' }), { code: 'bad_build_id' });
  await assert.rejects(snap.merge({ buildId: ZERO_BUILD_ID }), { code: 'bad_build_id' });
  await assert.rejects(snap.writeDiff(bufferMemorySource(Buffer.alloc(8 * K)), [[0, K]]), {
    code: 'size_mismatch',
  });
  await assert.rejects(snap.writeDiff(bufferMemorySource(mem), [[0, 5 * K]]), { code: 'bad_range' });
  await assert.rejects(snap.writeBase(bufferMemorySource(mem), { blockSize: 6000 }), {
    code: 'bad_block_size',
  });
  await assert.rejects(snap.writeBase(bufferMemorySource(Buffer.alloc(K + 1))), { code: 'bad_size' });
});

test('open: a missing directory or a file is not_a_directory; no header is no_header', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(SnapshotDir.open(join(dir, 'nope')), { code: 'not_a_directory' });
  writeFileSync(join(dir, 'f'), '');
  await assert.rejects(SnapshotDir.open(join(dir, 'f')), { code: 'not_a_directory' });
  const snap = await SnapshotDir.open(dir);
  for (const op of [() => snap.verify(), () => snap.merge(), () => snap.read(0, 1)]) {
    await assert.rejects(op(), { code: 'no_header' });
  }
  await assert.rejects(snap.writeDiff(bufferMemorySource(Buffer.alloc(K)), []), { code: 'no_header' });
});

test('cloneSnapshotDir shares data files by hard link; the clone evolves on its own', async (t) => {
  const root = tempDir(t);
  const src = await SnapshotDir.open(root);
  const mem = Buffer.alloc(32 * K);
  fillRandom(mem, prng(3));
  await src.writeBase(bufferMemorySource(mem));
  const h = await src.writeDiff(bufferMemorySource(mem), [[4 * K, 6 * K]]);
  const dst = join(root, 'clone');
  mkdirSync(dst);
  writeFileSync(join(dst, 'devices.state'), 'other code');
  const cloned = await cloneSnapshotDir(root, dst);
  assert.deepEqual(cloned, h);
  for (const m of h.mappings) {
    if (m.buildId === ZERO_BUILD_ID) continue;
    assert.equal(statSync(join(dst, `memfile.${m.buildId}`)).ino, statSync(src.dataFilePath(m.buildId)).ino);
  }
  const clone = await SnapshotDir.open(dst);
  assert.deepEqual(await clone.read(0, mem.length), mem);
  await assert.rejects(cloneSnapshotDir(root, dst), { code: 'already_exists' });

  const changed = Buffer.from(mem);
  changed.fill(9, 0, 8 * K);
  await clone.writeDiff(bufferMemorySource(changed), [[0, 8 * K]]);
  await clone.merge();
  assert.deepEqual(await clone.read(0, mem.length), changed);
  assert.deepEqual(await src.read(0, mem.length), mem, 'the source is untouched');
  await src.verify();
  assert.ok(readdirSync(dst).includes('devices.state'));
});
