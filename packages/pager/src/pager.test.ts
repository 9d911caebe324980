// The pager without a VM: uffd-helper maps a /dev/shm file with the shim preloaded, exactly as QEMU
// would, and the pager serves it from a 3-generation chain.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import { shimEnv } from '@amber/native';
import { PAGE_SIZE, pageHash, rng, UffdHelperProcess, writePattern } from '@amber/native/testing';
import { Pager, type PagerOptions } from './pager.js';
import { buildChain } from './test-support/chain-fixture.js';
import { pagesOf, testLogger, testPaths } from './test-support/fixture.js';

const SIZE = 64 << 20;

test('serves a 3-generation chain and reports exactly the pages written', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 3, 7);
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    trackDirty: true,
    pagesPerFault: 8,
  });
  t.after(() => pager.close());
  const helper = new UffdHelperProcess(paths.memPath, SIZE, pager.shimEnv(paths.memPath));
  t.after(() => helper.kill());
  const attachment = await pager.attached;
  const { pid } = await helper.ready();
  assert.equal(attachment.pid, pid);
  assert.equal(attachment.tracking, 'async');
  assert.deepEqual(
    attachment.regions.map((r) => [r.offset, r.size]),
    [[0, SIZE]],
  );

  const expected = (page: number) =>
    pageHash(chain.reference.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE));
  const reads = await helper.readRandom(12345, 10_000);
  assert.equal(reads.length, 10_000);
  for (const [page, hash] of reads) assert.equal(hash, expected(page), `page ${page}`);
  // Pages rewritten by the newest generations must come from them, not from generation 0.
  const newest = chain.rewritten.at(-1) ?? [];
  for (const [page, hash] of await helper.hashRange(newest[0] ?? 0, 1)) assert.equal(hash, expected(page));

  // Reading dirties nothing.
  assert.deepEqual(pager.takeDirtyRanges(), []);

  // A known random set of pages, some already faulted in and some not.
  const rand = rng(99);
  const written = new Set<number>();
  while (written.size < 300) written.add(Math.floor(rand() * (SIZE / PAGE_SIZE)));
  await helper.write([...written]);
  assert.deepEqual(
    pagesOf(pager.writtenSince()),
    [...written].sort((a, b) => a - b),
  );
  assert.deepEqual(pager.takeDirtyRanges(), [], 're-protected: nothing new since the last call');

  // A second round sees only its own writes; removed pages count as dirty and read as zero.
  await helper.write([5, 6]);
  await helper.remove(100, 4);
  assert.deepEqual(pagesOf(pager.takeDirtyRanges()), [5, 6, 100, 101, 102, 103]);
  const zero = pageHash(Buffer.alloc(PAGE_SIZE));
  for (const [, hash] of await helper.hashRange(100, 4)) assert.equal(hash, zero);
  for (const page of [5, 6])
    assert.equal((await helper.hashRange(page, 1))[0]?.[1], pageHash(writePattern(page)));

  const stats = pager.stats();
  assert.ok(stats.faults > 0 && stats.faults < 10_000 + 300, `faults ${stats.faults}`);
  assert.equal(stats.storageErrors, 0);
  assert.ok(stats.latencyP99Us > 0);

  // Detach: the pager fetches what is still missing, then lets go; the process runs on without it.
  await pager.detach();
  assert.equal(pager.state, 'detached');
  const all = await helper.hashRange(0, SIZE / PAGE_SIZE);
  const rewrittenNow = new Set([...written, 5, 6]);
  for (const [page, hash] of all) {
    if (page >= 100 && page < 104) assert.equal(hash, zero);
    else if (rewrittenNow.has(page)) assert.equal(hash, pageHash(writePattern(page)), `page ${page}`);
    else assert.equal(hash, expected(page), `page ${page}`);
  }
  assert.equal((await helper.exit()).code, 0);
});

/** A second pager of the same snapshot, with its own helper on `<mem>-2` (removed after the test). */
async function secondRun(
  t: TestContext,
  paths: ReturnType<typeof testPaths>,
  chain: ReturnType<typeof buildChain>,
  options: Pick<PagerOptions, 'pagesPerFault' | 'prefetch' | 'recordWorkingSet'>,
) {
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    ...options,
  });
  t.after(() => pager.close());
  const memPath = `${paths.memPath}-2`;
  const helper = new UffdHelperProcess(memPath, 8 << 20, pager.shimEnv(memPath));
  t.after(async () => {
    helper.kill();
    const { rmSync } = await import('node:fs');
    rmSync(memPath, { force: true });
  });
  await pager.attached;
  await helper.ready();
  return { pager, helper };
}

test('a recorded working set replays as a prefetch order', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, 8 << 20, 1, 3);
  const first = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    recordWorkingSet: true,
    pagesPerFault: 1,
  });
  t.after(() => first.close());
  const h1 = new UffdHelperProcess(paths.memPath, 8 << 20, first.shimEnv(paths.memPath));
  t.after(() => h1.kill());
  await first.attached;
  await h1.ready();
  for (const page of [700, 3, 1500, 4]) await h1.hashRange(page, 1);
  assert.deepEqual(
    first.workingSet().map((o) => o / PAGE_SIZE),
    [700, 3, 1500, 4],
  );
  const wsPath = `${paths.dir}/ws`;
  await first.saveWorkingSet(wsPath);
  await first.detach({ complete: false });
  h1.kill();

  const { loadWorkingSet } = await import('./working-set.js');
  const { pager: second, helper: h2 } = await secondRun(t, paths, chain, {
    pagesPerFault: 1,
    prefetch: { workingSet: await loadWorkingSet(wsPath) },
    recordWorkingSet: true,
  });
  const deadline = Date.now() + 5000;
  while (second.stats().prefetchedPages < 4 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  for (const page of [700, 3, 1500, 4]) await h2.hashRange(page, 1);
  assert.equal(second.stats().faults, 0);
  assert.equal(second.stats().prefetchedPages, 4);
  // A run that started from a recording records it again, plus what it faulted in beyond it.
  await h2.hashRange(9, 1);
  assert.deepEqual(
    second.workingSet().map((o) => o / PAGE_SIZE),
    [700, 3, 1500, 4, 9],
  );
});

test('exact faults record only the touched pages, windows all they install; a replay fetches exactly those', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, 8 << 20, 1, 3);
  const first = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    recordWorkingSet: true,
    exactFaults: true,
  });
  t.after(() => first.close());
  const h1 = new UffdHelperProcess(paths.memPath, 8 << 20, first.shimEnv(paths.memPath));
  t.after(() => h1.kill());
  await first.attached;
  await h1.ready();
  for (const page of [700, 3]) await h1.hashRange(page, 1);
  first.endExactFaults();
  await h1.hashRange(1501, 1);
  const window = [1496, 1497, 1498, 1499, 1500, 1501, 1502, 1503];
  const recorded = [700, 3, ...window];
  assert.deepEqual(
    first.workingSet().map((o) => o / PAGE_SIZE),
    recorded,
  );
  assert.equal(first.stats().pages, recorded.length);
  const workingSet = first.workingSet();
  await first.detach({ complete: false });
  h1.kill();

  const { pager: second, helper: h2 } = await secondRun(t, paths, chain, { prefetch: { workingSet } });
  const deadline = Date.now() + 5000;
  while (second.stats().prefetchedPages < recorded.length && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  for (const page of recorded) await h2.hashRange(page, 1);
  assert.equal(second.stats().faults, 0);
  assert.equal(second.stats().prefetchedPages, recorded.length);
  // 701 was never touched: not fetched ahead, so it faults.
  await h2.hashRange(701, 1);
  assert.equal(second.stats().faults, 1);
});

test('without WP_ASYNC the pager falls back to synchronous write-protect faults, just as exact', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, 8 << 20, 2, 5);
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    trackDirty: true,
  });
  t.after(() => pager.close());
  const env = shimEnv({
    memPath: paths.memPath,
    socketPath: paths.socketPath,
    trackDirty: true,
    wpAsync: false,
  });
  const helper = new UffdHelperProcess(paths.memPath, 8 << 20, env);
  t.after(() => helper.kill());
  assert.equal((await pager.attached).tracking, 'sync');
  await helper.ready();
  await helper.readRandom(1, 500);
  assert.deepEqual(pager.takeDirtyRanges(), []);
  await helper.write([7, 1000, 1001]);
  assert.deepEqual(pagesOf(pager.takeDirtyRanges()), [7, 1000, 1001]);
  await helper.write([7]);
  assert.deepEqual(pagesOf(pager.takeDirtyRanges()), [7]);
});

test('a parked handoff waits for serve(), then serves that snapshot; a wrong size is refused', async (t) => {
  const paths = testPaths(t);
  const size = 8 << 20;
  const chain = buildChain(paths.dir, size, 2, 11);
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    memoryBytes: size,
    logger: testLogger(),
    trackDirty: true,
  });
  t.after(() => pager.close());
  const helper = new UffdHelperProcess(paths.memPath, size, pager.shimEnv(paths.memPath));
  t.after(() => helper.kill());
  const attachment = await pager.attached;
  assert.equal((await helper.ready()).pid, attachment.pid);
  assert.equal(pager.state, 'parked');
  assert.throws(() => pager.stats(), { code: 'not_attached' });

  const other = buildChain(mkdtempSync(`${paths.dir}/other-`), size * 2, 1, 3);
  await assert.rejects(pager.serve({ snapshot: other.source }), { code: 'bad_handoff' });
  assert.equal(pager.state, 'parked');

  await pager.serve({ snapshot: chain.source, recordWorkingSet: true });
  assert.equal(pager.state, 'attached');
  for (const [page, hash] of await helper.readRandom(99, 500)) {
    assert.equal(hash, pageHash(chain.reference.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)));
  }
  await helper.write([3]);
  assert.deepEqual(pager.takeDirtyRanges(), [[3 * PAGE_SIZE, 4 * PAGE_SIZE]]);
  assert.ok(pager.workingSet().length > 0);
});
