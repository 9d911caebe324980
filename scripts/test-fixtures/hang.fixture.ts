// Run by run-tests.test.ts with a short AMBER_TEST_TIMEOUT_MS: a test that never ends, and keeps the
// process alive, must not hang the run.
import { test } from 'node:test';

test('never finishes', () => new Promise(() => setInterval(() => {}, 1000)));

test('runs after the hung one', () => {});
