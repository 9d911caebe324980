import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PagerError } from './errors.js';
import { decodeWorkingSet, encodeWorkingSet, mergeWorkingSets } from './working-set.js';

test('a working set round-trips in order', () => {
  const offsets = [40960, 0, 4096 * 1_000_000, 8192];
  assert.deepEqual(decodeWorkingSet(encodeWorkingSet(offsets)), offsets);
});

test('a version-1 file (the page each fault hit) reads as the aligned windows of 8 its restores fetched', () => {
  const v1 = encodeWorkingSet([9 * 4096, 3 * 4096, 12 * 4096]);
  v1.writeUInt32LE(1, 4);
  const pages = decodeWorkingSet(v1).map((offset) => offset / 4096);
  assert.deepEqual(pages, [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a foreign or truncated file is bad_working_set', () => {
  const isBad = (err: unknown) => err instanceof PagerError && err.code === 'bad_working_set';
  assert.throws(() => decodeWorkingSet(Buffer.from('not a working set')), isBad);
  assert.throws(
    () => decodeWorkingSet(encodeWorkingSet([1, 2, 3].map((x) => x * 4096)).subarray(0, 16)),
    isBad,
  );
});

test('merged working sets keep the first order, add only new pages, and stop at the cap', () => {
  assert.deepEqual(mergeWorkingSets([5, 1, 9], [1, 7, 5, 7, 2]), [5, 1, 9, 7, 2]);
  assert.deepEqual(mergeWorkingSets([5, 1, 9], [7, 2], 4), [5, 1, 9, 7]);
  assert.deepEqual(mergeWorkingSets([], [3, 3]), [3]);
});
