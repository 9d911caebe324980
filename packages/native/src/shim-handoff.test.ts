// The shim's handoff, served by hand from JS with the raw userfaultfd calls: proves the shim, SCM_RIGHTS
// receive, UFFDIO_COPY/ZEROPAGE/WRITEPROTECT and event reading against a real faulting process.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { acceptWithFds, listenUnix } from './scm-rights.js';
import { SHIM_EXIT_HANDOFF_FAILED, SHIM_EXIT_PAGER_LOST, shimEnv } from './shim.js';
import { PAGE_SIZE, pageHash, UffdHelperProcess, writePattern } from './testing/uffd-helper-process.js';
import {
  UffdCopyMode,
  type UffdEvent,
  UffdWriteprotectMode,
  uffdCopy,
  uffdReadEvents,
  uffdWriteprotect,
  uffdZeropage,
} from './uffd.js';

function fixture(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'amber-shim-'));
  const memPath = `/dev/shm/amber-shim-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fds: number[] = [];
  const helpers: UffdHelperProcess[] = [];
  t.after(() => {
    for (const h of helpers) h.kill();
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(memPath, { force: true });
  });
  const socketPath = join(dir, 'pager.sock');
  /** A helper through the shim with 4 pages of RAM, and its handoff connection, not answered yet. */
  const shimmed = async () => {
    const listenFd = listenUnix(socketPath);
    fds.push(listenFd);
    const helper = new UffdHelperProcess(memPath, 4 * PAGE_SIZE, shimEnv({ memPath, socketPath }));
    helpers.push(helper);
    const conn = await acceptWithFds(listenFd, { timeoutMs: 5000 });
    fds.push(conn.fd, ...conn.fds);
    return { helper, conn, listenFd };
  };
  return { dir, memPath, socketPath, fds, helpers, shimmed };
}

/** The kernel's THP_enabled for a process: 0 once PR_SET_THP_DISABLE is set. */
function hugePagesAllowed(pid: number | undefined): boolean {
  const flag = /^THP_enabled:\s*(\d)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(flag !== undefined, `no THP_enabled line for ${pid}`);
  return flag === '1';
}

function contentOf(page: number): Buffer {
  return writePattern(page + 1000);
}

test('the shim hands its RAM mapping over and JS can serve, track and release it', async (t) => {
  const f = fixture(t);
  const listenFd = listenUnix(f.socketPath);
  f.fds.push(listenFd);
  const pages = 16;
  const helper = new UffdHelperProcess(f.memPath, pages * PAGE_SIZE, {
    ...shimEnv({ memPath: f.memPath, socketPath: f.socketPath, trackDirty: true, wpAsync: false }),
  });
  f.helpers.push(helper);
  const conn = await acceptWithFds(listenFd, { timeoutMs: 5000 });
  f.fds.push(conn.fd, ...conn.fds);
  assert.equal(conn.pid, helper.child.pid);
  assert.equal(conn.fds.length, 1);
  const [mapping] = JSON.parse(conn.data.toString()) as Array<Record<string, number>>;
  assert.deepEqual(Object.keys(mapping ?? {}).sort(), ['base_host_virt_addr', 'offset', 'page_size', 'size']);
  assert.equal(mapping?.size, pages * PAGE_SIZE);
  assert.equal(mapping?.page_size, PAGE_SIZE);
  const uffd = conn.fds[0] as number;
  const base = mapping?.base_host_virt_addr as number;
  writeSync(conn.fd, 'ok\n');
  assert.equal((await helper.ready()).base, base);
  assert.equal(hugePagesAllowed(helper.child.pid), false, 'a shimmed process keeps to small pages');

  // Serve from the event loop: even pages get content (write-protected), odd pages zeros.
  const seen: UffdEvent[] = [];
  const timer = setInterval(() => {
    for (const e of uffdReadEvents(uffd)) {
      seen.push(e);
      if (e.type !== 'pagefault') continue;
      const page = Math.floor((e.address - base) / PAGE_SIZE);
      const addr = base + page * PAGE_SIZE;
      if (e.wp) uffdWriteprotect(uffd, addr, PAGE_SIZE, 0);
      else if (page % 2 === 0) uffdCopy(uffd, addr, contentOf(page), UffdCopyMode.WP);
      else uffdZeropage(uffd, addr, PAGE_SIZE);
    }
  }, 1);
  t.after(() => clearInterval(timer));

  const hashes = await helper.hashRange(0, pages);
  for (const [page, hash] of hashes) {
    assert.equal(hash, pageHash(page % 2 === 0 ? contentOf(page) : Buffer.alloc(PAGE_SIZE)), `page ${page}`);
  }
  const faults = seen.filter((e) => e.type === 'pagefault');
  assert.equal(faults.length, pages);
  assert.ok(faults.every((e) => e.type === 'pagefault' && !e.write && !e.wp));

  // A write to a write-protected page raises a WP fault; un-protecting lets it through.
  seen.length = 0;
  await helper.write([2]);
  assert.deepEqual(
    seen.map((e) => e.type === 'pagefault' && e.wp && e.write),
    [true],
  );
  seen.length = 0;
  uffdWriteprotect(uffd, base + 2 * PAGE_SIZE, PAGE_SIZE, UffdWriteprotectMode.WP);
  await helper.write([2]);
  assert.equal(seen.length, 1);

  // MADV_REMOVE reaches us as a remove event.
  seen.length = 0;
  await helper.remove(4, 2);
  assert.deepEqual(seen, [{ type: 'remove', start: base + 4 * PAGE_SIZE, end: base + 6 * PAGE_SIZE }]);

  // Hanging up without "detach": the shim must end the process instead of letting it hang.
  closeSync(conn.fd);
  f.fds.splice(f.fds.indexOf(conn.fd), 1);
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_PAGER_LOST);
  assert.match(exit.stderr, /amber-uffd-shim: the pager's connection closed without a detach/);
});

test('after "detach" the shim lets go and the process lives on', async (t) => {
  const f = fixture(t);
  const { helper, conn, listenFd } = await f.shimmed();
  writeSync(conn.fd, 'ok\n');
  await helper.ready();
  writeSync(conn.fd, 'detach\n');
  const { createReadStream } = await import('node:fs');
  const reply = await new Promise<string>((resolve) => {
    createReadStream('', { fd: conn.fd, autoClose: false, end: 8 }).once('data', (c) =>
      resolve(c.toString()),
    );
  });
  assert.equal(reply, 'detached\n');
  // Dropping both uffd copies ends the registration: plain shared-memory reads work again.
  for (const fd of conn.fds) closeSync(fd);
  closeSync(conn.fd);
  f.fds.length = 0;
  f.fds.push(listenFd);
  const hashes = await helper.hashRange(0, 4);
  assert.equal(hashes.length, 4);
  assert.equal((await helper.exit()).code, 0);
});

test('a shimmed process keeps its freed heap: malloc_trim gives nothing back', async (t) => {
  const f = fixture(t);
  const { helper, conn } = await f.shimmed();
  writeSync(conn.fd, 'ok\n');
  await helper.ready();
  const mib = 32;
  const { before, after } = await helper.freeHeapThenTrim(mib);
  assert.ok(before >= mib * 1024, `only ${before} KiB resident with ${mib} MiB of freed heap`);
  assert.ok(before - after < (mib / 4) * 1024, `malloc_trim gave back ${before - after} KiB`);
  assert.equal((await helper.exit()).code, 0);
});

test('a handoff with nobody listening retries until its timeout, then fails with a clear message', async (t) => {
  const f = fixture(t);
  const started = Date.now();
  const helper = new UffdHelperProcess(
    f.memPath,
    4 * PAGE_SIZE,
    shimEnv({ memPath: f.memPath, socketPath: f.socketPath, timeoutMs: 300 }),
  );
  f.helpers.push(helper);
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_HANDOFF_FAILED);
  assert.match(exit.stderr, /amber-uffd-shim: cannot connect to the pager at .*pager\.sock/);
  // A lower bound only (a slow machine only makes it later): the shim kept trying for its whole timeout.
  assert.ok(Date.now() - started >= 300, `gave up after ${Date.now() - started} ms, before its 300 ms`);
});

test("a refused handoff ends the process with the pager's reason", async (t) => {
  const f = fixture(t);
  const { helper, conn } = await f.shimmed();
  writeSync(conn.fd, 'error BAD_LAYOUT: no\n');
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_HANDOFF_FAILED);
  assert.match(exit.stderr, /the pager refused the handoff: error BAD_LAYOUT: no/);
});

test('without the environment variables the shim does nothing', async (t) => {
  const f = fixture(t);
  const { shimPath } = await import('./shim.js');
  const helper = new UffdHelperProcess(f.memPath, 4 * PAGE_SIZE, { LD_PRELOAD: shimPath });
  f.helpers.push(helper);
  await helper.ready();
  assert.equal(hugePagesAllowed(helper.child.pid), true);
  const hashes = await helper.hashRange(0, 1);
  assert.equal(hashes[0]?.[1], pageHash(Buffer.alloc(PAGE_SIZE)));
  const mib = 32;
  const { before, after } = await helper.freeHeapThenTrim(mib);
  assert.ok(before - after >= (mib / 2) * 1024, `malloc_trim gave back ${before - after} KiB of ${mib} MiB`);
  assert.equal((await helper.exit()).code, 0);
});
