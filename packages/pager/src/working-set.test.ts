import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PagerError } from './errors.js';
import { decodeWorkingSet, encodeWorkingSet } from './working-set.js';

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
