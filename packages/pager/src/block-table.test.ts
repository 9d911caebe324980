import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildBlockTable, ZERO_BUILD_ID } from './block-table.js';
import { PagerError } from './errors.js';

const A = '11111111-1111-1111-1111-111111111111';
const B = '22222222-2222-2222-2222-222222222222';

test('resolves mappings to file indices and merges continuing neighbours', () => {
  const table = buildBlockTable({
    size: 7 * 4096,
    mappings: [
      { offset: 0, length: 4096, buildId: A, storageOffset: 0 },
      { offset: 4096, length: 4096, buildId: A, storageOffset: 4096 }, // continues: merged
      { offset: 8192, length: 4096, buildId: ZERO_BUILD_ID, storageOffset: 0 },
      { offset: 12288, length: 4096, buildId: ZERO_BUILD_ID, storageOffset: 123 }, // zero + zero: merged
      { offset: 16384, length: 4096, buildId: B, storageOffset: 0 },
      { offset: 20480, length: 4096, buildId: A, storageOffset: 12288 }, // A again, not contiguous in storage
      { offset: 24576, length: 4096, buildId: A.toUpperCase(), storageOffset: 16384 }, // ids are case-insensitive
    ],
  });
  assert.deepEqual(table.buildIds, [A, B]);
  assert.deepEqual(table.entries, [
    { offset: 0, length: 8192, file: 0, storage: 0 },
    { offset: 8192, length: 8192, file: -1, storage: 0 },
    { offset: 16384, length: 4096, file: 1, storage: 0 },
    { offset: 20480, length: 8192, file: 0, storage: 12288 },
  ]);
});

test('rejects gaps, overlaps and short coverage', () => {
  const isBadHeader = (err: unknown) => err instanceof PagerError && err.code === 'bad_header';
  assert.throws(
    () =>
      buildBlockTable({
        size: 8192,
        mappings: [
          { offset: 0, length: 4096, buildId: A, storageOffset: 0 },
          { offset: 8192, length: 4096, buildId: A, storageOffset: 0 },
        ],
      }),
    isBadHeader,
  );
  assert.throws(
    () =>
      buildBlockTable({ size: 8192, mappings: [{ offset: 0, length: 4096, buildId: A, storageOffset: 0 }] }),
    isBadHeader,
  );
});
