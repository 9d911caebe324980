import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeRanges } from './ranges.js';

test('merges touching and overlapping ranges and drops empty ones', () => {
  assert.deepEqual(
    mergeRanges([
      [8, 12],
      [0, 4],
      [4, 6],
      [10, 16],
      [20, 20],
    ]),
    [
      [0, 6],
      [8, 16],
    ],
  );
});
