// Bad input never half-works: a broken header or a missing/short data file gives a MemsnapError with the
// right code, naming the file and the offset, and the directory is left exactly as it was.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { ZERO_BUILD_ID } from './build-id.js';
import { cloneSnapshotDir } from './clone.js';
import { MemsnapError, type MemsnapErrorCode } from './errors.js';
import type { Header, Mapping } from './header.js';
import { encodeHeader } from './header-codec.js';
import { bufferMemorySource } from './memory-source.js';
import { SnapshotDir } from './snapshot-dir.js';
import { fillRandom, listing, prng, tempDir } from './test-support/fixture.js';

const K = 4096;
const SIZE = 16 * K;

/** A committed base + diff, to be broken in one way. */
async function snapshot(t: TestContext): Promise<{ snap: SnapshotDir; header: Header; mem: Buffer }> {
  const dir = join(tempDir(t), 'snap');
  mkdirSync(dir);
  writeFileSync(join(dir, 'devices.state'), 'not ours');
  const snap = await SnapshotDir.open(dir);
  const mem = Buffer.alloc(SIZE);
  fillRandom(mem, prng(5));
  mem.fill(0, 8 * K, 10 * K);
  await snap.writeBase(bufferMemorySource(mem));
  fillRandom(mem.subarray(2 * K, 4 * K), prng(6));
  const header = await snap.writeDiff(bufferMemorySource(mem), [[2 * K, 4 * K]]);
  return { snap, header, mem };
}

function breakHeader(snap: SnapshotDir, header: Header, change: (h: Header) => Header): void {
  writeFileSync(snap.headerPath, encodeHeader(change(structuredClone(header))));
}

/** Runs every operation that reads the committed state; each must fail with `code`, writing nothing. */
async function expectRefusal(
  snap: SnapshotDir,
  code: MemsnapErrorCode,
  mentions: { file: string; offset?: RegExp },
  ops: Array<[string, () => Promise<unknown>]>,
): Promise<void> {
  const before = listing(snap.dir);
  for (const [name, op] of ops) {
    let caught: unknown;
    try {
      await op();
    } catch (err) {
      caught = err;
    }
    assert.ok(
      caught instanceof MemsnapError,
      `${name}: expected MemsnapError ${code}, got ${String(caught)}`,
    );
    assert.equal(caught.code, code, `${name}: ${caught.message}`);
    assert.ok(
      caught.message.includes(mentions.file),
      `${name}: message names ${mentions.file}: ${caught.message}`,
    );
    if (mentions.offset) assert.match(caught.message, mentions.offset, name);
    assert.deepEqual(listing(snap.dir), before, `${name} wrote nothing`);
  }
}

function allOps(snap: SnapshotDir, mem: Buffer, cloneTo: string): Array<[string, () => Promise<unknown>]> {
  return [
    ['header', () => snap.header()],
    ['verify', () => snap.verify()],
    ['read', () => snap.read(0, SIZE)],
    ['writeDiff', () => snap.writeDiff(bufferMemorySource(mem), [[0, K]])],
    ['merge', () => snap.merge()],
    ['garbage', () => snap.garbage()],
    ['collectGarbage', () => snap.collectGarbage()],
    ['clone', () => cloneSnapshotDir(snap.dir, cloneTo)],
  ];
}

const headerCases: Array<{
  name: string;
  code: MemsnapErrorCode;
  offset: RegExp;
  change: (h: Header) => Header;
}> = [
  {
    name: 'unsorted mappings',
    code: 'unsorted_mappings',
    offset: /mapping 1 at offset/,
    change: (h) => ({ ...h, mappings: [h.mappings[1], h.mappings[0], ...h.mappings.slice(2)] as Mapping[] }),
  },
  {
    name: 'overlapping mappings',
    code: 'overlapping_mappings',
    offset: /mapping 1 at offset 4096 \(0x1000\)/,
    change: (h) => {
      (h.mappings[1] as Mapping).offset -= K;
      (h.mappings[1] as Mapping).length += K;
      return h;
    },
  },
  {
    name: 'a gap',
    code: 'mapping_gap',
    offset: /mapping 1 at offset 12288/,
    change: (h) => {
      (h.mappings[1] as Mapping).offset += K;
      (h.mappings[1] as Mapping).length -= K;
      return h;
    },
  },
  {
    name: 'unknown version',
    code: 'unknown_version',
    offset: /version 4 at byte 0/,
    change: (h) => ({ ...h, version: 4 }),
  },
  {
    name: 'bad block size',
    code: 'bad_block_size',
    offset: /block size 12288/,
    change: (h) => ({ ...h, blockSize: 3 * K }),
  },
];

for (const c of headerCases) {
  test(`bad header (${c.name}): ${c.code}, nothing written`, async (t) => {
    const { snap, header, mem } = await snapshot(t);
    breakHeader(snap, header, c.change);
    const cloneTo = join(snap.dir, '..', 'clone');
    await expectRefusal(
      snap,
      c.code,
      { file: snap.headerPath, offset: c.offset },
      allOps(snap, mem, cloneTo),
    );
    assert.ok(!existsSync(cloneTo), 'no clone directory was created');
  });
}

test('truncated header: truncated_header with the byte offset, nothing written', async (t) => {
  const { snap, header, mem } = await snapshot(t);
  assert.equal(header.mappings.length, 5);
  truncateSync(snap.headerPath, 64 + 2 * 40 + 12);
  await expectRefusal(
    snap,
    'truncated_header',
    { file: snap.headerPath, offset: /mapping 2 at byte 144/ },
    allOps(snap, mem, join(snap.dir, '..', 'c')),
  );
  truncateSync(snap.headerPath, 40);
  await expectRefusal(
    snap,
    'truncated_header',
    { file: snap.headerPath, offset: /40 bytes/ },
    allOps(snap, mem, join(snap.dir, '..', 'c')),
  );
});

test('missing data file: missing_data_file naming the file, the mapping and its offset', async (t) => {
  const { snap, header, mem } = await snapshot(t);
  const diffFile = snap.dataFilePath(header.buildId);
  unlinkSync(diffFile);
  // Mapping 1 ([2K, 4K)) is the diff's only one.
  assert.deepEqual(header.mappings[1], {
    offset: 2 * K,
    length: 2 * K,
    buildId: header.buildId,
    storageOffset: 0,
  });
  const ops = allOps(snap, mem, join(snap.dir, '..', 'c')).filter(([n]) =>
    ['verify', 'read', 'writeDiff', 'merge', 'clone'].includes(n),
  );
  await expectRefusal(
    snap,
    'missing_data_file',
    { file: diffFile, offset: /mapping 1 at offset 8192 \(0x2000\)/ },
    ops,
  );
});

test('short data file: short_data_file naming the file, the mapping and its offset', async (t) => {
  const { snap, header, mem } = await snapshot(t);
  const baseFile = snap.dataFilePath(header.baseBuildId);
  truncateSync(baseFile, 5 * K);
  const last = header.mappings.length - 1;
  const m = header.mappings[last] as Mapping;
  assert.notEqual(m.buildId, ZERO_BUILD_ID);
  const ops = allOps(snap, mem, join(snap.dir, '..', 'c')).filter(([n]) =>
    ['verify', 'read', 'writeDiff', 'merge', 'clone'].includes(n),
  );
  // verify names the mapping reading furthest; read names the first one it finds cut short.
  const mentions = { file: baseFile, offset: new RegExp(`mapping ${last} at offset ${m.offset}`) };
  await expectRefusal(
    snap,
    'short_data_file',
    mentions,
    ops.filter(([n]) => n !== 'read'),
  );
  await expectRefusal(
    snap,
    'short_data_file',
    { file: baseFile, offset: /mapping 2 at offset 16384/ },
    ops.filter(([n]) => n === 'read'),
  );
  // A read that stays inside the file still works: the error is about that file, not the snapshot.
  assert.deepEqual(await snap.read(0, 2 * K), mem.subarray(0, 2 * K));
});
