import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZERO_BUILD_ID } from './build-id.js';
import type { Header } from './header.js';
import { HeaderIndex, lookup } from './lookup.js';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const K = 4096;
const h: Pick<Header, 'size' | 'mappings'> = {
  size: 10 * K,
  mappings: [
    { offset: 0, length: 4 * K, buildId: A, storageOffset: 0 },
    { offset: 4 * K, length: 2 * K, buildId: B, storageOffset: 8 * K },
    { offset: 6 * K, length: 1 * K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
    { offset: 7 * K, length: 3 * K, buildId: A, storageOffset: 4 * K },
  ],
};

test('offset -> build id, storage offset and the rest of its run', () => {
  const index = new HeaderIndex(h);
  const cases: Array<[number, string, number, number, number]> = [
    [0, A, 0, 4 * K, 0],
    [K + 5, A, K + 5, 3 * K - 5, 0],
    [4 * K, B, 8 * K, 2 * K, 1],
    [6 * K - 1, B, 10 * K - 1, 1, 1],
    [6 * K + 100, ZERO_BUILD_ID, 0, K - 100, 2],
    [7 * K, A, 4 * K, 3 * K, 3],
    [10 * K - 1, A, 7 * K - 1, 1, 3],
  ];
  for (const [offset, buildId, storageOffset, runLength, i] of cases) {
    const expected = { buildId, storageOffset, runLength, index: i };
    assert.deepEqual(lookup(h, offset), expected, `offset ${offset}`);
    assert.deepEqual(lookup(index, offset), expected, `indexed offset ${offset}`);
  }
});

test('offsets outside the memory are bad_range', () => {
  for (const offset of [-1, 10 * K, 1.5, Number.NaN]) {
    assert.throws(() => lookup(h, offset), { code: 'bad_range' });
    assert.throws(() => new HeaderIndex(h).lookup(offset), { code: 'bad_range' });
  }
});
