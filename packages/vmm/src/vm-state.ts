// Saving and loading a VM's state through QEMU migration to a file, and switching its disk to a new
// overlay. With `ignoreShared`, guest RAM (a shared memory-backend-file) is left out: only device state is
// written, and the snapshot engine owns the memory.
import { VmmError } from './errors.js';
import type { Vm } from './vm.js';
import { DISK_DEVICE } from './vm-spec.js';

export interface StateFileOptions {
  /** Leave shared guest RAM out of the stream (x-ignore-shared). */
  ignoreShared: boolean;
  timeoutMs?: number;
}

const POLL_MS = 5;
// QEMU throttles migration to 128 MiB/s by default; a local file is not a network link.
const UNLIMITED_BANDWIDTH = 1024 ** 4;

async function setCapabilities(vm: Vm, ignoreShared: boolean): Promise<void> {
  await vm.qmp.execute('migrate-set-capabilities', {
    capabilities: [{ capability: 'x-ignore-shared', state: ignoreShared }],
  });
  await vm.qmp.execute('migrate-set-parameters', { 'max-bandwidth': UNLIMITED_BANDWIDTH });
}

async function waitForMigration(vm: Vm, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await vm.qmp.execute('query-migrate', {});
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new VmmError(
        'migration_failed',
        `${what} ${info.status}: ${info['error-desc'] ?? 'no reason given'}`,
      );
    }
    if (Date.now() > deadline) {
      throw new VmmError('migration_failed', `${what} did not finish in ${timeoutMs} ms (${info.status})`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Writes the state of a stopped VM to `path`. The VM stays stopped; `cont` runs it on. */
export async function saveStateFile(vm: Vm, path: string, options: StateFileOptions): Promise<void> {
  await setCapabilities(vm, options.ignoreShared);
  await vm.qmp.execute('migrate', { uri: `file:${path}` });
  await waitForMigration(vm, `saving the VM state to ${path}`, options.timeoutMs ?? 60_000);
}

/** Loads `path` into a VM started with `incoming`. The VM is left stopped; `cont` runs it. */
export async function loadStateFile(vm: Vm, path: string, options: StateFileOptions): Promise<void> {
  await setCapabilities(vm, options.ignoreShared);
  await vm.qmp.execute('migrate-incoming', { uri: `file:${path}` });
  await waitForMigration(vm, `loading the VM state from ${path}`, options.timeoutMs ?? 60_000);
}

/**
 * Makes `overlayPath` (an existing qcow2 whose backing is the disk's current top layer) the VM's writable
 * disk, so the old top stays frozen exactly as it is now. The VM should be stopped.
 */
export async function switchDiskOverlay(vm: Vm, overlayPath: string): Promise<void> {
  await vm.qmp.execute('blockdev-snapshot-sync', {
    device: DISK_DEVICE,
    'snapshot-file': overlayPath,
    format: 'qcow2',
    mode: 'existing',
  });
}
