// Saving and loading a VM's state through QEMU migration to a file, and switching its disk to a new
// overlay. With `ignoreShared`, guest RAM (a shared memory-backend-file) is left out: only device state is
// written, and the snapshot engine owns the memory.
import { VmmError } from './errors.js';
import type { Vm } from './vm.js';

export interface StateFileOptions {
  /** Leave shared guest RAM out of the stream (x-ignore-shared). */
  ignoreShared: boolean;
  timeoutMs?: number;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** What each VM's x-ignore-shared is set to (QEMU keeps it across migrations), so it is sent once. */
const ignoringShared = new WeakMap<Vm, boolean>();

/**
 * Sets whether the VM's migrations leave shared guest RAM out. Idempotent; the state file functions call
 * it, and a VM launched ahead of its restore (a pooled one) can call it early, off the restore's path.
 */
export async function setIgnoreShared(vm: Vm, ignoreShared: boolean): Promise<void> {
  if (ignoringShared.get(vm) === ignoreShared) return;
  await vm.qmp.execute('migrate-set-capabilities', {
    capabilities: [{ capability: 'x-ignore-shared', state: ignoreShared }],
  });
  ignoringShared.set(vm, ignoreShared);
}

/** Runs `start` (a migrate command) and resolves when the migration has completed. */
async function migration(vm: Vm, start: () => Promise<unknown>, what: string, timeoutMs: number) {
  const finished = vm.qmp.waitForEvent('MIGRATION', timeoutMs, (e) => FINAL.has(String(e.data?.status)));
  finished.catch(() => {});
  await start();
  let status: string;
  try {
    status = String((await finished).data?.status);
  } catch (err) {
    const gone = err instanceof VmmError && err.code === 'qmp_closed';
    const why = gone ? 'QEMU went away' : `it did not finish in ${timeoutMs} ms`;
    throw new VmmError('migration_failed', `${what} failed: ${why}`, { cause: err });
  }
  if (status === 'completed') return;
  const info = await vm.qmp.execute('query-migrate', {});
  throw new VmmError('migration_failed', `${what} ${status}: ${info['error-desc'] ?? 'no reason given'}`);
}

/** Writes the state of a stopped VM to `path`. The VM stays stopped; `cont` runs it on. */
export async function saveStateFile(vm: Vm, path: string, options: StateFileOptions): Promise<void> {
  await setIgnoreShared(vm, options.ignoreShared);
  await migration(
    vm,
    () => vm.qmp.execute('migrate', { uri: `file:${path}` }),
    `saving the VM state to ${path}`,
    options.timeoutMs ?? 60_000,
  );
  await migrationFinalized(vm);
}

/**
 * QEMU sends the COMPLETED event from its migration thread and leaves the 'finish-migrate' run state a
 * moment later, on its main loop; a `cont` in between fails ("Migration is not finalized yet").
 */
async function migrationFinalized(vm: Vm, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await vm.status()) === 'finish-migrate') {
    if (Date.now() > deadline)
      throw new VmmError('migration_failed', `the migration did not finalize in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Loads `path` into a VM started with `incoming`. The VM is left stopped; `cont` runs it. */
export async function loadStateFile(vm: Vm, path: string, options: StateFileOptions): Promise<void> {
  await setIgnoreShared(vm, options.ignoreShared);
  await migration(
    vm,
    () => vm.qmp.execute('migrate-incoming', { uri: `file:${path}` }),
    `loading the VM state from ${path}`,
    options.timeoutMs ?? 60_000,
  );
}
