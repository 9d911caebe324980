// The pager with real QEMU (TCG): a bare-metal guest that keeps checking 32 MiB of its own memory is
// snapshotted with x-ignore-shared, restored lazily through the shim and the pager, re-snapshotted as a
// diff of the pages the pager saw written, restored again from the 2-generation chain, and finally
// detached. Along the way a pager that goes away without detaching must take QEMU down with it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { SHIM_EXIT_HANDOFF_FAILED, SHIM_EXIT_PAGER_LOST } from '@amber/native';
import { Pager } from './pager.js';
import type { SnapshotSource } from './snapshot-source.js';
import { testLogger, testPaths } from './test-support/fixture.js';
import { MiniQmp } from './test-support/mini-qmp.js';
import { GUEST_RAM, QemuProcess } from './test-support/qemu-process.js';
import { baseFromRamFile, diffFromRamFile } from './test-support/ram-snapshot.js';
import { buildTestGuest } from './test-support/test-guest.js';

const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };
const PAGE = 4096;

/**
 * The pages the test guest writes once its pattern is filled, from its symbol table: its counter, the
 * scratch page at 8 MiB, and the top of its stack (return addresses and guest_main's locals: under 1 KiB).
 */
function pagesTheGuestWrites(elf: string) {
  const symbols = new Map<string, number>();
  for (const line of execFileSync('nm', [elf], { encoding: 'utf8' }).split('\n')) {
    const [address, , name] = line.split(' ');
    if (address && name) symbols.set(name, Number.parseInt(address, 16));
  }
  const counter = symbols.get('counter');
  const stackTop = symbols.get('stack_top');
  assert.ok(counter !== undefined && stackTop !== undefined, 'the guest has counter and stack_top symbols');
  const page = (address: number) => Math.floor(address / PAGE) * PAGE;
  // Written every pass: the counter, the scratch page, the stack's top page (calls push return addresses).
  // Maybe: the page below, should the deepest call cross into it. (They can be one page: .bss is small.)
  return {
    always: new Set([page(counter), 0x800000, page(stackTop - 1)]),
    maybe: new Set([page(stackTop - 1024)]),
  };
}

function pagesOf(ranges: Array<[number, number]>): number[] {
  const pages: number[] = [];
  for (const [start, end] of ranges) for (let p = start; p < end; p += PAGE) pages.push(p);
  return pages;
}

/** stop + migrate the device state (only: RAM is shared) to a file; returns the last counter printed. */
async function saveDeviceState(vm: QemuProcess, qmp: MiniQmp, stateFile: string): Promise<number> {
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
  await qmp.execute('stop');
  await qmp.execute('migrate', { uri: `file:${stateFile}` });
  const r = await qmp.poll<{ status: string }>(
    'query-migrate',
    (m) => m.status === 'completed' || m.status === 'failed',
  );
  assert.equal(r.status, 'completed');
  return vm.serial().counts.at(-1) ?? -1;
}

/** A new QEMU on an empty RAM file, its memory served by a pager from `snapshot`. */
async function restore(
  t: TestContext,
  name: string,
  dir: string,
  elf: string,
  memPath: string,
  snapshot: SnapshotSource,
  stateFile: string,
) {
  rmSync(memPath, { force: true });
  const pager = await Pager.listen({
    socketPath: join(dir, `${name}.pager`),
    snapshot,
    logger: testLogger(),
    trackDirty: true,
    pagesPerFault: 8,
  });
  t.after(() => pager.close());
  const started = performance.now();
  const vm = new QemuProcess({
    name,
    dir,
    elf,
    ramPath: memPath,
    incoming: true,
    env: pager.shimEnv(memPath),
  });
  t.after(() => vm.kill());
  await pager.attached;
  const qmp = await MiniQmp.connect(vm.qmpPath);
  t.after(() => qmp.close());
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
  await qmp.execute('migrate-incoming', { uri: `file:${stateFile}` });
  await qmp.poll<{ status: string }>('query-status', (s) => s.status !== 'inmigrate');
  await qmp.execute('cont');
  const runningMs = performance.now() - started;
  return { pager, vm, qmp, runningMs };
}

test('a guest resumes lazily from its snapshot, twice, with exactly its written pages in the diff', async (t) => {
  const paths = testPaths(t, 'qemu');
  const elf = buildTestGuest(paths.dir);

  // Cold boot, run a little, save device state; the RAM file becomes generation 0.
  const vm1 = new QemuProcess({ name: 'vm1', dir: paths.dir, elf, ramPath: paths.memPath });
  t.after(() => vm1.kill());
  const qmp1 = await MiniQmp.connect(vm1.qmpPath);
  await vm1.waitForCounts(3);
  const c1 = await saveDeviceState(vm1, qmp1, join(paths.dir, 'state1'));
  await qmp1.execute('quit').catch(() => {});
  qmp1.close();
  await vm1.exited;
  const gen0 = baseFromRamFile(paths.memPath, GUEST_RAM, paths.dir);

  // Lazy restore #1: the counter carries on from c1 and every verification pass succeeds.
  const r2 = await restore(t, 'vm2', paths.dir, elf, paths.memPath, gen0, join(paths.dir, 'state1'));
  const counts2 = await r2.vm.waitForCounts(3);
  assert.equal(counts2[0], c1 + 1, `vm2 continued from ${c1}: ${counts2.slice(0, 5).join(',')}`);
  const s2 = r2.pager.stats();
  assert.ok(s2.faults > 0);
  assert.ok(s2.populatedPages < s2.totalPages, 'memory came in lazily, not all at once');

  // Re-pause: the diff holds only what the pager saw written (counter, scratch page, stack...).
  const stopped = await saveDeviceState(r2.vm, r2.qmp, join(paths.dir, 'state2'));
  const dirty = r2.pager.takeDirtyRanges();
  const dirtyBytes = dirty.reduce((n, [s, e]) => n + (e - s), 0);
  // Exactly what the guest wrote: its counter's page, the scratch page and its stack's top; nothing of
  // the 32 MiB it only reads, nothing else at all.
  const written = pagesOf(dirty);
  const expected = pagesTheGuestWrites(elf);
  const hex = (pages: Iterable<number>) => [...pages].map((p) => p.toString(16)).join(' ');
  for (const page of expected.always)
    assert.ok(written.includes(page), `page ${page.toString(16)} is dirty (dirty: ${hex(written)})`);
  for (const page of written)
    assert.ok(
      expected.always.has(page) || expected.maybe.has(page),
      `page ${page.toString(16)} is not one the guest writes (dirty: ${hex(written)}; expected ${hex(expected.always)}, maybe ${hex(expected.maybe)})`,
    );
  const gen1 = diffFromRamFile(gen0, dirty, paths.memPath, paths.dir);
  t.diagnostic(
    `restore #1: launch -> running ${r2.runningMs.toFixed(0)} ms; ${s2.faults} faults, ${s2.populatedPages}/${s2.totalPages} pages populated; diff ${dirty.length} ranges, ${dirtyBytes} bytes: ${dirty.map(([a, b]) => `${a.toString(16)}-${b.toString(16)}`).join(' ')}`,
  );

  // The pager goes away without detaching: QEMU must not hang, the shim ends it.
  await r2.pager.close();
  const exit2 = await r2.vm.exited;
  assert.equal(exit2.code, SHIM_EXIT_PAGER_LOST);
  assert.match(r2.vm.stderr, /amber-uffd-shim: the pager's connection closed without a detach/);

  // Lazy restore #2 from the 2-generation chain: the counter carries on from where vm2 stopped.
  const r3 = await restore(t, 'vm3', paths.dir, elf, paths.memPath, gen1, join(paths.dir, 'state2'));
  const counts3 = await r3.vm.waitForCounts(3);
  assert.equal(counts3[0], stopped + 1, `vm3 continued from ${stopped}: ${counts3.slice(0, 5).join(',')}`);

  // Detach: everything missing is fetched, the shim lets go, and the guest runs on without a pager.
  await r3.pager.detach();
  const before = r3.vm.serial().counts.length;
  await r3.vm.waitForCounts(before + 3);
  await r3.qmp.execute('quit').catch(() => {});
  const exit3 = await r3.vm.exited;
  assert.equal(exit3.code, 0, r3.vm.stderr);
});

test('QEMU whose RAM does not fit the snapshot fails fast with the reason, nothing hangs', async (t) => {
  const paths = testPaths(t, 'qemu-bad');
  const elf = buildTestGuest(paths.dir);
  const { buildChain } = await import('./test-support/chain-fixture.js');
  const small = buildChain(paths.dir, 16 << 20, 1); // QEMU maps 64 MiB
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: small.source,
    logger: testLogger(),
  });
  t.after(() => pager.close());
  const vm = new QemuProcess({
    name: 'bad',
    dir: paths.dir,
    elf,
    ramPath: paths.memPath,
    incoming: true,
    env: pager.shimEnv(paths.memPath),
  });
  t.after(() => vm.kill());
  await assert.rejects(pager.attached, { code: 'layout_mismatch' });
  const exit = await vm.exited;
  assert.equal(exit.code, SHIM_EXIT_HANDOFF_FAILED);
  assert.match(vm.stderr, /amber-uffd-shim: the pager refused the handoff: error layout_mismatch/);
});
