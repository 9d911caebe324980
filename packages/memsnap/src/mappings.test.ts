import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZERO_BUILD_ID } from './build-id.js';
import type { Mapping } from './header.js';
import { createMapping, mergeMappings, normalizeMappings } from './mappings.js';
import { planMerge } from './merge-plan.js';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const N = 'cccccccc-0000-4000-8000-000000000003';
const K = 4096;
const m = (offset: number, length: number, buildId: string, storageOffset = 0): Mapping => ({
  offset: offset * K,
  length: length * K,
  buildId,
  storageOffset: storageOffset * K,
});

test('createMapping packs dirty blocks in address order with sequential storage', () => {
  assert.deepEqual(createMapping([7, 2, 3, 4, 9, 3], K, B), [m(2, 3, B, 0), m(7, 1, B, 3), m(9, 1, B, 4)]);
  // Byte ranges are widened to blocks and joined.
  assert.deepEqual(
    createMapping(
      [
        [5 * K + 10, 5 * K + 20],
        [K, 2 * K],
        [2 * K, 2 * K + 1],
        [0, 0],
      ],
      K,
      B,
    ),
    [m(1, 2, B, 0), m(5, 1, B, 2)],
  );
  assert.deepEqual(createMapping([1, 2, 5], K, ZERO_BUILD_ID), [
    m(1, 2, ZERO_BUILD_ID),
    m(5, 1, ZERO_BUILD_ID),
  ]);
  assert.throws(() => createMapping([1], 1000, B), { code: 'bad_block_size' });
  assert.throws(() => createMapping([-1], K, B), { code: 'bad_range' });
  assert.throws(() => createMapping([1], K, 'not-a-uuid'), { code: 'bad_build_id' });
});

test('mergeMappings: the diff wins and cut base entries keep their bytes', () => {
  const base = [m(0, 8, A, 0), m(8, 2, ZERO_BUILD_ID), m(10, 6, A, 8)];
  const diff = [m(2, 1, B, 0), m(6, 4, B, 1), m(15, 1, B, 5)];
  assert.deepEqual(mergeMappings(base, diff), [
    m(0, 2, A, 0),
    m(2, 1, B, 0),
    m(3, 3, A, 3),
    m(6, 4, B, 1),
    m(10, 5, A, 8),
    m(15, 1, B, 5),
  ]);
  // A diff entry spanning several base entries, and diffs past the base's end.
  assert.deepEqual(
    mergeMappings([m(0, 2, A, 0), m(2, 2, A, 10), m(4, 2, A, 20)], [m(1, 4, B, 0), m(7, 1, B, 4)]),
    [m(0, 1, A, 0), m(1, 4, B, 0), m(5, 1, A, 21), m(7, 1, B, 4)],
  );
  assert.throws(() => mergeMappings(base, [m(3, 2, B), m(4, 1, B)]), { code: 'overlapping_mappings' });
  assert.throws(() => mergeMappings([m(4, 1, A), m(0, 1, A)], []), { code: 'unsorted_mappings' });
});

test('normalizeMappings joins continuing neighbours only', () => {
  assert.deepEqual(
    normalizeMappings([
      m(0, 1, A, 0),
      m(1, 1, A, 1), // continues A
      m(2, 1, A, 5), // same file, storage jumps
      m(3, 1, ZERO_BUILD_ID),
      { ...m(4, 1, ZERO_BUILD_ID), storageOffset: 12345 }, // zeros join whatever their storage says
      m(5, 1, B, 2),
      m(6, 0, B, 3), // empty: dropped
      m(6, 1, B, 3),
    ]),
    [m(0, 2, A, 0), m(2, 1, A, 5), m(3, 2, ZERO_BUILD_ID), m(5, 2, B, 2)],
  );
});

test('planMerge packs every data block into one file and coalesces continuing copies', () => {
  const plan = planMerge(
    [m(0, 2, A, 0), m(2, 1, ZERO_BUILD_ID), m(3, 2, A, 2), m(5, 1, B, 0), m(6, 2, A, 5)],
    N,
  );
  assert.deepEqual(plan.copies, [
    { buildId: A, from: 0, to: 0, length: 4 * K }, // A's blocks around the zero run: one copy
    { buildId: B, from: 0, to: 4 * K, length: K },
    { buildId: A, from: 5 * K, to: 5 * K, length: 2 * K },
  ]);
  assert.deepEqual(plan.mappings, [m(0, 2, N, 0), m(2, 1, ZERO_BUILD_ID), m(3, 5, N, 2)]);
  assert.equal(plan.bytes, 7 * K);
});
