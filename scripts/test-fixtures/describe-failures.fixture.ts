// Run by run-tests.test.ts: failures that belong to a describe, not to a test in it.
import { after, describe, test } from 'node:test';

describe('a describe whose body throws', () => {
  throw new Error('the describe body threw');
});

describe('a describe whose after hook fails', () => {
  after(() => {
    throw new Error('the after hook failed');
  });
  test('passes', () => {});
});

test('is skipped', { skip: true }, () => {});
