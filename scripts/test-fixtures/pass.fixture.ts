// Run by run-tests.test.ts: one passing test.
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('one plus one', () => {
  assert.equal(1 + 1, 2);
});
