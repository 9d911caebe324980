// Property tests of SnapshotDir on real files (hundreds of cases, seeded: MEMSNAP_SEED=<n> repeats a
// run). Random writes over up to 12 generations, random MergeDiffs and clones in between: after every
// step the directory verifies, has no garbage, and reads back exactly the reference memory (a Buffer).
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { cloneSnapshotDir } from './clone.js';
import { bufferMemorySource, type MemorySource, openFileMemorySource } from './memory-source.js';
import { isZero } from './pack-blocks.js';
import type { ByteRange } from './ranges.js';
import { SnapshotDir } from './snapshot-dir.js';
import { fillRandom, prng, propertySeed } from './test-support/fixture.js';

const seed = propertySeed(7700417);

/** The memory as a RAM file would hold it: a hole wherever a block is zero. */
function sparseFile(path: string, mem: Buffer, blockSize: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, mem.length);
  for (let off = 0; off < mem.length; off += blockSize) {
    if (!isZero(mem, off, off + blockSize)) writeSync(fd, mem, off, blockSize, off);
  }
  closeSync(fd);
}

/** Half the time a Buffer, half the time a sparse file read through pread and SEEK_DATA. */
async function withSource<T>(
  work: string,
  mem: Buffer,
  blockSize: number,
  fromFile: boolean,
  fn: (s: MemorySource) => Promise<T>,
): Promise<T> {
  if (!fromFile) return fn(bufferMemorySource(Buffer.from(mem)));
  const path = join(work, 'ram');
  sparseFile(path, mem, blockSize);
  const source = await openFileMemorySource(path);
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

const opArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      // A write of `len` bytes at byte `at` (may span blocks or touch a fraction of one), zero or random.
      writes: fc.array(
        fc.record({ at: fc.nat(), len: fc.integer({ min: 1, max: 20000 }), zero: fc.boolean() }),
        {
          maxLength: 5,
        },
      ),
      same: fc.array(fc.nat(), { maxLength: 2 }),
      fromFile: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'merge' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clone' as const }) },
);

test('SnapshotDir: writes, merges and clones over up to 12 generations read back the reference', async () => {
  const root = mkdtempSync(join(tmpdir(), 'memsnap-prop-'));
  let caseNo = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(4096, 4096, 8192),
        fc.integer({ min: 1, max: 48 }),
        fc.nat(),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        fc.array(opArb, { maxLength: 16 }),
        async (blockSize, blocks, contentSeed, density, baseFromFile, ops) => {
          const work = join(root, `case-${caseNo++}`);
          mkdirSync(work);
          try {
            const rand = prng(contentSeed);
            const size = blocks * blockSize;
            const mem = Buffer.alloc(size);
            for (let b = 0; b < blocks; b++) {
              if (rand() < density) fillRandom(mem.subarray(b * blockSize, (b + 1) * blockSize), rand);
            }
            let dir = join(work, 'snap-0');
            mkdirSync(dir);
            let snap = await SnapshotDir.open(dir);
            await withSource(work, mem, blockSize, baseFromFile, (s) => snap.writeBase(s, { blockSize }));
            const check = async (): Promise<void> => {
              await snap.verify();
              assert.deepEqual(await snap.garbage(), []);
              assert.ok((await snap.read(0, size)).equals(mem), 'the whole memory reads back');
              const off = Math.floor(rand() * size);
              const len = Math.floor(rand() * (size - off));
              assert.ok(
                (await snap.read(off, len)).equals(mem.subarray(off, off + len)),
                `read(${off}, ${len})`,
              );
            };
            await check();
            let clones = 0;
            for (const op of ops) {
              const before = (await snap.header())?.generation ?? -1;
              if (op.kind === 'clone') {
                const next = join(work, `snap-${++clones}`);
                await cloneSnapshotDir(dir, next);
                const old = snap;
                dir = next;
                snap = await SnapshotDir.open(dir);
                await check();
                // The original is untouched by what happens to the clone next; checked once here.
                assert.ok((await old.read(0, size)).equals(mem));
                continue;
              }
              if (op.kind === 'merge' || before >= 11) {
                const h = await snap.merge();
                assert.equal(h.generation, 0);
                await check();
                if (op.kind === 'merge') continue;
              }
              const dirty: ByteRange[] = [];
              for (const w of op.writes) {
                const at = w.at % size;
                const end = Math.min(size, at + w.len);
                if (w.zero) mem.fill(0, at, end);
                else fillRandom(mem.subarray(at, end), rand);
                dirty.push([at, end]);
              }
              for (const s of op.same) {
                const at = s % size;
                dirty.push([at, at + 1]); // reported dirty, bytes unchanged
              }
              const parent = (await snap.header())?.generation ?? -1;
              const h = await withSource(work, mem, blockSize, op.fromFile, (s) => snap.writeDiff(s, dirty));
              assert.equal(h.generation, parent + 1);
              await check();
            }
          } finally {
            rmSync(work, { recursive: true, force: true });
          }
        },
      ),
      { seed, numRuns: 250 },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
