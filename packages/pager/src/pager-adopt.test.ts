// A restarted host agent takes over a lazily restored VM: with AMBER_UFFD_RECONNECT_MS the shim keeps the
// guest waiting when its pager goes, then hands the same userfaultfd to a new pager on the same socket,
// which serves on from the pages already installed and counts them all as written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SHIM_EXIT_PAGER_LOST } from '@amber/native';
import { PAGE_SIZE, pageHash, UffdHelperProcess, writePattern } from '@amber/native/testing';
import { Pager } from './pager.js';
import { buildChain } from './test-support/chain-fixture.js';
import { pagesOf, testLogger, testPaths } from './test-support/fixture.js';

const SIZE = 8 << 20;

test('a new pager adopts a guest whose pager went away: no page lost, served twice or missed as written', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 3, 21);
  const options = {
    socketPath: paths.socketPath,
    snapshot: chain.source,
    trackDirty: true,
    pagesPerFault: 1,
  };
  const first = await Pager.listen({ ...options, logger: testLogger() });
  t.after(() => first.close());
  const helper = new UffdHelperProcess(paths.memPath, SIZE, {
    ...first.shimEnv(paths.memPath),
    AMBER_UFFD_RECONNECT_MS: '20000',
  });
  t.after(() => helper.kill());
  await first.attached;
  await helper.ready();
  const expected = (page: number) =>
    pageHash(chain.reference.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE));

  await helper.hashRange(0, 64); // read: installed, not written
  await helper.write([10, 11, 500]);
  assert.deepEqual(pagesOf(first.takeDirtyRanges()), [10, 11, 500]);
  await helper.write([12, 900]); // written after the last report: only the guest's page tables know

  await first.close();
  // A fault while no pager listens waits in the userfaultfd instead of ending the process.
  const waiting = helper.hashRange(1500, 1);
  const outcome = await Promise.race([
    helper.exited.then(() => 'exited'),
    new Promise((r) => setTimeout(() => r('waiting'), 300)),
  ]);
  assert.equal(outcome, 'waiting', 'the process waits for a pager');

  const second = await Pager.listen({ ...options, logger: testLogger(), adoptMemoryFile: paths.memPath });
  t.after(() => second.close());
  await second.attached;
  assert.deepEqual(await waiting, [[1500, expected(1500)]]);
  // Pages the first pager installed are not served again.
  const faults = second.stats().faults;
  await helper.hashRange(0, 64);
  assert.equal(second.stats().faults, faults);

  // Every page installed before the takeover counts as written once (a superset of what was written since
  // the last report), then tracking is exact again.
  const dirty = pagesOf(second.takeDirtyRanges());
  for (const page of [10, 11, 12, 500, 900]) assert.ok(dirty.includes(page), `page ${page} is reported`);
  // Nothing the first pager never installed; nor 1500, only read since the takeover.
  for (const page of dirty) assert.ok(page < 64 || [500, 900].includes(page), `page ${page} is not written`);
  await helper.write([2000]);
  assert.deepEqual(pagesOf(second.takeDirtyRanges()), [2000]);

  const written = new Set([10, 11, 12, 500, 900, 2000]);
  for (const [page, hash] of await helper.hashRange(0, SIZE / PAGE_SIZE)) {
    assert.equal(hash, written.has(page) ? pageHash(writePattern(page)) : expected(page), `page ${page}`);
  }
});

test('without a new pager in time the guest ends with the pager-lost code', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 1, 5);
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
  });
  const helper = new UffdHelperProcess(paths.memPath, SIZE, {
    ...pager.shimEnv(paths.memPath),
    AMBER_UFFD_RECONNECT_MS: '200',
  });
  t.after(() => helper.kill());
  await pager.attached;
  await helper.ready();
  await pager.close();
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_PAGER_LOST);
  assert.match(exit.stderr, /no pager came back within 200 ms/);
});
