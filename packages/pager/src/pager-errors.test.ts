// The pager's trouble paths on real files and a real userfaultfd: a chain file that is missing or
// truncated, a userfaultfd in an error state, a detach that cannot complete, and prefetch "then all".
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { connectUnix, sendWithFds, uffdCreate } from '@amber/native';
import { PAGE_SIZE, pageHash, UffdHelperProcess } from '@amber/native/testing';
import { ZERO_BUILD_ID } from './block-table.js';
import type { PagerError } from './errors.js';
import { Pager, type PagerOptions } from './pager.js';
import { buildChain } from './test-support/chain-fixture.js';
import { testLogger, testPaths } from './test-support/fixture.js';

const SIZE = 8 << 20;

async function until(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function allThreadsStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) =>
    /^\d+ \(.*\) [tT] /.test(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')),
  );
}

/** A pager on a 3-generation chain, collecting what it reports through onError. */
async function serving(t: TestContext, opts: Partial<PagerOptions> = {}) {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 3, 21);
  const errors: PagerError[] = [];
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    onError: (e) => errors.push(e),
    ...opts,
  } as PagerOptions);
  t.after(() => pager.close());
  const expected = (page: number) =>
    pageHash(chain.reference.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE));
  return { paths, chain, pager, errors, expected };
}

function startHelper(t: TestContext, pager: Pager, memPath: string): UffdHelperProcess {
  const helper = new UffdHelperProcess(memPath, SIZE, pager.shimEnv(memPath));
  t.after(() => helper.kill());
  return helper;
}

test('a chain whose data file is missing is refused at listen with no_snapshot', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 3, 5);
  // An older generation: the table must open every file the header references, not just the newest.
  const victim = chain.source.header.mappings
    .map((m) => m.buildId)
    .find((id) => id !== chain.source.header.buildId && id !== ZERO_BUILD_ID);
  assert.ok(victim, 'the chain references an older generation');
  rmSync(chain.source.dataFilePath(victim));
  await assert.rejects(
    Pager.listen({ socketPath: paths.socketPath, snapshot: chain.source, logger: testLogger() }),
    (e: PagerError) => e.code === 'no_snapshot' && e.message.includes(victim),
  );
});

test('a truncated chain file: the read waits and is reported, detach fails clearly, both recover', async (t) => {
  const { paths, chain, pager, errors, expected } = await serving(t, { pagesPerFault: 1 });
  const helper = startHelper(t, pager, paths.memPath);
  await pager.attached;
  await helper.ready();
  // A page the newest generation rewrote is read from the newest file only.
  const page = chain.rewritten.at(-1)?.[0] as number;
  const file = chain.source.dataFilePath(chain.source.header.buildId);
  const original = readFileSync(file);
  const fd = openSync(file, 'r+');
  t.after(() => closeSync(fd));
  ftruncateSync(fd, 0);

  const reading = helper.hashRange(page, 1);
  await until(() => errors.length > 0, 'a storage error through onError');
  const first = errors[0] as PagerError;
  assert.equal(first.code, 'storage_read_failed');
  assert.match(first.message, new RegExp(`guest offset ${page * PAGE_SIZE} .*ENODATA`));
  assert.ok(pager.stats().storageErrors >= 1);
  assert.ok(
    errors.every((e) => e.code === 'storage_read_failed'),
    errors.map((e) => e.code).join(),
  );

  // Detach must fetch every page first; with a file it cannot read, it gives up with the count missing
  // instead of letting the guest run on zeros, and the guest stays served.
  await assert.rejects(pager.detach({ timeoutMs: 300 }), (e: PagerError) => {
    assert.equal(e.code, 'detach_failed');
    assert.match(e.message, /\d+ pages still missing after 300 ms/);
    return true;
  });
  assert.equal(pager.state, 'attached');

  writeSync(fd, original, 0, original.length, 0);
  const [[readPage, hash] = [-1, 0]] = await reading;
  assert.equal(readPage, page);
  assert.equal(hash, expected(page), 'the waiting read got the snapshot data, not zeros');

  await pager.detach();
  assert.equal(pager.state, 'detached');
  for (const [p, h] of await helper.hashRange(0, SIZE / PAGE_SIZE)) assert.equal(h, expected(p), `page ${p}`);
});

test('a shim that never confirms the detach fails it with detach_failed instead of hanging', async (t) => {
  const { paths, pager, errors } = await serving(t, { prefetch: 'all' });
  const helper = startHelper(t, pager, paths.memPath);
  await pager.attached;
  await helper.ready();
  await pager.whenFullyPopulated(20000);
  // A stopped process cannot answer: the shim's thread is frozen with it.
  helper.child.kill('SIGSTOP');
  t.after(() => helper.child.kill('SIGCONT'));
  // kill() only queues the stop: a shim thread running on the other core could still answer meanwhile.
  await until(() => allThreadsStopped(helper.child.pid as number), 'every thread of the helper stopped');
  await assert.rejects(pager.detach({ timeoutMs: 400 }), (e: PagerError) => {
    assert.equal(e.code, 'detach_failed');
    assert.match(e.message, /did not confirm the detach/);
    return true;
  });
  assert.deepEqual(errors, []);
});

test('a userfaultfd in an error state is reported as uffd_error', async (t) => {
  const { paths, pager, errors } = await serving(t);
  // Never initialised with UFFDIO_API: the kernel's poll answers POLLERR, as for a broken shim.
  const uffd = uffdCreate();
  t.after(() => closeSync(uffd));
  const fd = connectUnix(paths.socketPath);
  const message = [{ base_host_virt_addr: 0x7f0000000000, size: SIZE, offset: 0, page_size: PAGE_SIZE }];
  sendWithFds(fd, Buffer.from(JSON.stringify(message)), [uffd]);
  const socket = new Socket({ fd, readable: true, writable: true });
  t.after(() => socket.destroy());
  await pager.attached;
  await until(() => errors.length > 0, 'an error through onError');
  assert.equal(errors[0]?.code, 'uffd_error');
  assert.match(errors[0]?.message ?? '', /uffd-error: .*stopped serving faults \(EPIPE\)/);
});

test('prefetch of a working set "then all" populates every page while idle', async (t) => {
  const order = [1500, 3, 700];
  const { paths, pager, errors, expected } = await serving(t, {
    prefetch: { workingSet: order.map((p) => p * PAGE_SIZE), thenAll: true },
  });
  const helper = startHelper(t, pager, paths.memPath);
  await pager.attached;
  await helper.ready();
  // Without "then all" only the three pages would be fetched, and this would time out.
  await pager.whenFullyPopulated(20000);
  const stats = pager.stats();
  assert.equal(stats.populatedPages, SIZE / PAGE_SIZE);
  assert.equal(stats.prefetchedPages, SIZE / PAGE_SIZE);
  for (const [p, h] of await helper.hashRange(0, SIZE / PAGE_SIZE)) assert.equal(h, expected(p), `page ${p}`);
  assert.equal(pager.stats().faults, 0, 'nothing left to fault in');
  assert.deepEqual(errors, []);
});
