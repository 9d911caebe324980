// FaultServer against a real faulting process (uffd-helper through the shim); the pager package tests
// the full stack on top of this.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  type BlockTableEntry,
  FaultServer,
  type FaultServerEvent,
  type FaultServerOptions,
} from './fault-server.js';
import { acceptWithFds, listenUnix } from './scm-rights.js';
import { shimEnv } from './shim.js';
import { PAGE_SIZE, pageHash, UffdHelperProcess, writePattern } from './testing/uffd-helper-process.js';

const PAGES = 64;
// Guest pages 0-7 from data pages 0-7, 8-15 zero, 16-63 from data pages 8-55.
const TABLE: BlockTableEntry[] = [
  { offset: 0, length: 8 * PAGE_SIZE, file: 0, storage: 0 },
  { offset: 8 * PAGE_SIZE, length: 8 * PAGE_SIZE, file: -1, storage: 0 },
  { offset: 16 * PAGE_SIZE, length: 48 * PAGE_SIZE, file: 0, storage: 8 * PAGE_SIZE },
];

async function served(
  t: TestContext,
  opts: Partial<FaultServerOptions> & { wpAsync?: boolean; trackDirty?: boolean } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'amber-fs-'));
  const memPath = `/dev/shm/amber-fs-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const data = Buffer.alloc(56 * PAGE_SIZE);
  randomFillSync(data);
  const dataPath = join(dir, 'data');
  writeFileSync(dataPath, data);
  const expected = (page: number): Buffer =>
    page < 8
      ? data.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)
      : page < 16
        ? Buffer.alloc(PAGE_SIZE)
        : data.subarray((page - 8) * PAGE_SIZE, (page - 7) * PAGE_SIZE);
  const fds: number[] = [];
  const events: FaultServerEvent[] = [];
  let server: FaultServer | undefined;
  let helper: UffdHelperProcess | undefined;
  t.after(async () => {
    helper?.kill();
    await server?.stop();
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    rmSync(memPath, { force: true });
  });
  const listenFd = listenUnix(join(dir, 'sock'));
  fds.push(listenFd);
  const dataFd = openSync(dataPath, 'r');
  fds.push(dataFd);
  helper = new UffdHelperProcess(
    memPath,
    PAGES * PAGE_SIZE,
    shimEnv({
      memPath,
      socketPath: join(dir, 'sock'),
      trackDirty: opts.trackDirty ?? false,
      wpAsync: opts.wpAsync,
    }),
  );
  const conn = await acceptWithFds(listenFd, { timeoutMs: 5000 });
  fds.push(conn.fd, ...conn.fds);
  const [m] = JSON.parse(conn.data.toString()) as Array<{ base_host_virt_addr: number; size: number }>;
  server = new FaultServer(
    {
      uffd: conn.fds[0] as number,
      regions: [{ base: m?.base_host_virt_addr ?? 0, size: m?.size ?? 0, offset: 0 }],
      table: TABLE,
      fds: [dataFd],
      ...opts,
    },
    (e) => events.push(e),
  );
  server.start();
  writeSync(conn.fd, 'ok\n');
  await helper.ready();
  return { helper, server, events, expected, dataPath, data };
}

async function assertAllPages(helper: UffdHelperProcess, expected: (page: number) => Buffer) {
  for (const [page, hash] of await helper.hashRange(0, PAGES)) {
    assert.equal(hash, pageHash(expected(page)), `page ${page}`);
  }
}

async function until(cond: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('serves data and zero blocks, N pages per fault', async (t) => {
  const { helper, server, expected } = await served(t, { pagesPerFault: 4 });
  await assertAllPages(helper, expected);
  const s = server.stats();
  assert.equal(s.faults, PAGES / 4);
  assert.equal(s.pages, PAGES);
  assert.equal(s.populatedPages, PAGES);
  assert.equal(s.zeroPages, 8);
  assert.equal(s.totalPages, PAGES);
  // The histogram is updated just after the copy that woke the reader: give it a moment.
  await until(() => server.stats().latencyUs.reduce((a, b) => a + b, 0) === s.faults, 'latency histogram');
});

test('a removed range reads as zero afterwards and counts as dirty', async (t) => {
  const { helper, server, expected } = await served(t, { trackDirty: true, wp: 'async' });
  await assertAllPages(helper, expected);
  await helper.remove(2, 3);
  const removed = (p: number) => (p >= 2 && p < 5 ? Buffer.alloc(PAGE_SIZE) : expected(p));
  await assertAllPages(helper, removed);
  assert.deepEqual(server.takeDirty(), [[2 * PAGE_SIZE, 5 * PAGE_SIZE]]);
  assert.deepEqual(server.takeDirty(), []);
  assert.equal(server.stats().removedPages, 3);
});

test('a failing storage read is retried, reported, and recovers without killing the process', async (t) => {
  const { helper, server, events, expected, dataPath, data } = await served(t);
  const fd = openSync(dataPath, 'r+');
  ftruncateSync(fd, 0); // every pread now comes back short
  const reading = helper.hashRange(20, 1);
  await until(() => events.some((e) => e.type === 'storage-error'), 'a storage-error event');
  const err = events.find((e) => e.type === 'storage-error');
  assert.equal(err?.type === 'storage-error' && err.code, 'ENODATA');
  assert.equal(err?.type === 'storage-error' && err.guestOffset, 20 * PAGE_SIZE);
  writeSync(fd, data, 0, data.length, 0);
  closeSync(fd);
  const [[page, hash] = [0, 0]] = await reading;
  assert.equal(page, 20);
  assert.equal(hash, pageHash(expected(20)));
  await until(() => events.some((e) => e.type === 'storage-recovered'), 'a storage-recovered event');
  assert.ok(server.stats().storageErrors >= 1);
});

test('prefetch "all" populates everything while idle, then faults stop', async (t) => {
  const { helper, server, events, expected } = await served(t, {
    prefetch: { policy: 'all' },
    prefetchChunkPages: 16,
  });
  await until(() => events.some((e) => e.type === 'prefetch-done'), 'prefetch-done');
  assert.equal(server.stats().populatedPages, PAGES);
  await assertAllPages(helper, expected);
  assert.equal(server.stats().faults, 0);
  assert.equal(server.stats().prefetchedPages, PAGES);
});

test('records the working set in first-touch order and replays it as a prefetch order', async (t) => {
  const first = await served(t, { recordWorkingSet: true });
  await first.helper.hashRange(30, 1);
  await first.helper.hashRange(3, 1);
  await first.helper.hashRange(9, 1);
  const ws = first.server.workingSet();
  assert.deepEqual(ws, [30 * PAGE_SIZE, 3 * PAGE_SIZE, 9 * PAGE_SIZE]);

  const second = await served(t, { prefetch: { policy: 'order', offsets: ws } });
  await until(() => second.events.some((e) => e.type === 'prefetch-done'), 'prefetch-done');
  assert.equal(second.server.stats().prefetchedPages, 3);
  await second.helper.hashRange(30, 1);
  assert.equal(second.server.stats().faults, 0);
});

test('a prefetch order fetches exactly its pages, whatever the fault window, consecutive ones together', async (t) => {
  // Windows of 4 pages for faults; 12-14 is one run; 40 and 41 are listed apart but still adjacent.
  const pages = [50, 3, 41, 40, 12, 13, 14, 2, 60];
  const { helper, server, events, expected } = await served(t, {
    pagesPerFault: 4,
    prefetch: { policy: 'order', offsets: pages.map((page) => page * PAGE_SIZE) },
  });
  await until(() => events.some((e) => e.type === 'prefetch-done'), 'prefetch-done');
  assert.equal(server.stats().prefetchedPages, pages.length);
  assert.equal(server.stats().populatedPages, pages.length);
  for (const page of pages) {
    const [[, hash] = [0, 0]] = await helper.hashRange(page, 1);
    assert.equal(hash, pageHash(expected(page)), `page ${page}`);
  }
  assert.equal(server.stats().faults, 0);
  // A neighbour not listed was not fetched: it faults, and brings the missing part of its window (48-49).
  await helper.hashRange(49, 1);
  assert.equal(server.stats().faults, 1);
  assert.equal(server.stats().populatedPages, pages.length + 2);
});

test('synchronous write-protect fallback reports exactly the written pages', async (t) => {
  const { helper, server, expected } = await served(t, { trackDirty: true, wpAsync: false, wp: 'sync' });
  await assertAllPages(helper, expected);
  await helper.write([1, 2, 40]);
  assert.deepEqual(server.takeDirty(), [
    [1 * PAGE_SIZE, 3 * PAGE_SIZE],
    [40 * PAGE_SIZE, 41 * PAGE_SIZE],
  ]);
  // Re-protected: the next write is seen again, and nothing else is.
  await helper.write([2]);
  assert.deepEqual(server.takeDirty(), [[2 * PAGE_SIZE, 3 * PAGE_SIZE]]);
  assert.equal(server.stats().wpFaults, 4);
  for (const [page, hash] of await helper.hashRange(1, 2)) assert.equal(hash, pageHash(writePattern(page)));
});
