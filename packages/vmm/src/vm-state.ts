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

// QEMU throttles migration to 128 MiB/s by default; a local file is not a network link.
const UNLIMITED_BANDWIDTH = 1024 ** 4;
const FINAL = new Set(['completed', 'failed', 'cancelled']);

async function setCapabilities(vm: Vm, ignoreShared: boolean): Promise<void> {
  await vm.qmp.execute('migrate-set-capabilities', {
    capabilities: [
      { capability: 'x-ignore-shared', state: ignoreShared },
      // MIGRATION events: the end of a migration is seen the moment it happens, not at the next poll.
      { capability: 'events', state: true },
    ],
  });
  await vm.qmp.execute('migrate-set-parameters', {
    'max-bandwidth': UNLIMITED_BANDWIDTH,
    // No announcements after a load: they tell switches a VM moved hosts, and a restored one is in a fresh
    // namespace whose host side already knows its fixed MAC. Each round had the guest send gratuitous ARP
    // and IPv6 multicast reports, ~600 translation blocks of a restored guest's kernel.
    'announce-rounds': 0,
  });
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
  await setCapabilities(vm, options.ignoreShared);
  await migration(
    vm,
    () => vm.qmp.execute('migrate', { uri: `file:${path}` }),
    `saving the VM state to ${path}`,
    options.timeoutMs ?? 60_000,
  );
}

/** Loads `path` into a VM started with `incoming`. The VM is left stopped; `cont` runs it. */
export async function loadStateFile(vm: Vm, path: string, options: StateFileOptions): Promise<void> {
  await setCapabilities(vm, options.ignoreShared);
  await migration(
    vm,
    () => vm.qmp.execute('migrate-incoming', { uri: `file:${path}` }),
    `loading the VM state from ${path}`,
    options.timeoutMs ?? 60_000,
  );
}
