import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PagerError } from './errors.js';
import { decodeWorkingSet, encodeWorkingSet, mergeWorkingSets } from './working-set.js';

test('a working set round-trips in order', () => {
  const offsets = [40960, 0, 4096 * 1_000_000, 8192];
  assert.deepEqual(decodeWorkingSet(encodeWorkingSet(offsets)), offsets);
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
