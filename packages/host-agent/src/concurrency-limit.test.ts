import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConcurrencyLimit } from './concurrency-limit.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test('runs at most the limit at once, the rest in arrival order', async () => {
  const limit = new ConcurrencyLimit(2);
  const gates = Array.from({ length: 5 }, deferred);
  const started: number[] = [];
  const runs = gates.map((gate, i) =>
    limit.run(async () => {
      started.push(i);
      await gate.promise;
      return i;
    }),
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1]);
  assert.equal(limit.waiting, 3);
  gates[1]?.resolve();
  await runs[1];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [0, 1, 2]);
  // A newcomer waits behind those already waiting.
  const late = limit.run(async () => {
    started.push(99);
  });
  for (const gate of gates) gate.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  await late;
  assert.deepEqual(started, [0, 1, 2, 3, 4, 99]);
  assert.equal(limit.waiting, 0);
});

test('a failed operation frees its place', async () => {
  const limit = new ConcurrencyLimit(1);
  await assert.rejects(
    limit.run(async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await limit.run(async () => 'next'), 'next');
});

test('refuses a limit below one', () => {
  assert.throws(() => new ConcurrencyLimit(0), /1 or more/);
});
