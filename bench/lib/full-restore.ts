// The baseline for resume: QEMU's own plain full `migrate` of a running sandbox's VM to a file, then a new
// QEMU restored from it with `migrate-incoming` (every byte of RAM read back before the guest runs).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxManager } from '@amber/host-agent';
import { loadStateFile, saveStateFile, Vm } from '@amber/vmm';
import type { Logger } from 'pino';

export interface FullRestoreTimes {
  /** From starting the new QEMU until envd answers /health. */
  readyMs: number;
  /** ... until a `true` command has returned. */
  execMs: number;
}

/**
 * Stops the sandbox's VM, saves it whole, kills it and restores a copy from the file. The sandbox is
 * unusable afterwards (its VM is gone): destroy it.
 */
export async function fullRestore(
  manager: SandboxManager,
  id: string,
  log: Logger,
): Promise<FullRestoreTimes> {
  const runtime = manager.get(id).runtime;
  if (!runtime) throw new Error(`sandbox ${id} is not running`);
  const paths = manager.paths(id);
  const stateFile = join(paths.dir, 'full.state');
  await runtime.vm.pause();
  await saveStateFile(runtime.vm, stateFile, { ignoreShared: false, timeoutMs: 600_000 });
  runtime.expectedExit = true;
  await runtime.vm.kill();

  const memoryFile = `${paths.memory}.baseline`;
  // Plain QEMU: no shim, no pager, the whole RAM comes from the state file.
  const { uffd: _lazy, ...plain } = runtime.vm.spec;
  const spec = { ...plain, runDir: join(paths.dir, 'baseline-run'), memoryFile, incoming: true };
  const started = performance.now();
  const vm = await Vm.launch(spec, { log });
  try {
    await loadStateFile(vm, stateFile, { ignoreShared: false, timeoutMs: 600_000 });
    await vm.resume();
    await runtime.envd.waitHealthy(120_000);
    const readyMs = performance.now() - started;
    for await (const _ of runtime.envd.exec({ cmd: 'true', args: [], envs: {} })) {
      // drain
    }
    return { readyMs, execMs: performance.now() - started };
  } finally {
    await vm.kill();
    await rm(memoryFile, { force: true });
    await rm(stateFile, { force: true });
  }
}
