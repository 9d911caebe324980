import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Pager } from '@amber/pager';
import type { Vm } from '@amber/vmm';
import type { Logger } from 'pino';
import { removeVmCgroup, type VmCgroup } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { type VmShape, vmSpec } from './guest-vm.js';
import type { MemoryBudget } from './memory-budget.js';
import { destroyNetworkSlot, type NetworkSlot, namespacePrefix } from './network/network-slot.js';
import type { NetworkSlotPool } from './network/slot-pool.js';
import { POOLED_QEMU_MIB } from './qemu-overhead.js';
import { launchVm } from './vm-launch.js';

/** A QEMU waiting for a restore: in its namespace, guest RAM handed to a parked pager, disk a placeholder. */
export interface PooledVm {
  vm: Vm;
  pager: Pager;
  slot: NetworkSlot;
  /** The empty guest RAM file; the restore renames it to the sandbox's. */
  memoryFile: string;
  cgroup?: VmCgroup;
}

/** The directory of pooled VMs' run dirs, and the start of their RAM files' names (recovery removes both). */
export function poolPaths(config: AgentConfig) {
  return { dir: join(config.home, 'pool'), memoryPrefix: `${namespacePrefix(config.home)}pool-` };
}

/**
 * QEMU launched ahead of the restores that will use it. Starting QEMU (exec, ~50 libraries to link, machine
 * setup, the shim's handoff) was ~40-55 ms of every resume and template spawn, a third of the time to
 * ready on TCG; a pooled VM only needs its disk attached (`blockdev-reopen`) and its pager told the
 * snapshot. One VM is kept per recently used shape (vcpus, memory, image; `config.vmPoolShapes` of
 * them); each is used once.
 */
export class VmPool {
  readonly #ready = new Map<string, PooledVm>();
  readonly #launching = new Map<string, Promise<PooledVm | undefined>>();
  #recent: string[] = [];
  #closed = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly slots: NetworkSlotPool,
    private readonly log: Logger,
    /** A pooled QEMU holds its share of the budget from its launch until a restore takes it. */
    private readonly budget?: MemoryBudget,
  ) {}

  /** A live pooled VM of `shape` if one is ready or nearly (already launching), else undefined. */
  async take(shape: VmShape): Promise<PooledVm | undefined> {
    const key = shapeKey(shape);
    this.#remember(key);
    // Concurrent takes may wait on the same launch: only the one that finds the VM ready gets it.
    if (!this.#ready.has(key)) await this.#launching.get(key);
    const pooled = this.#ready.get(key);
    this.#ready.delete(key);
    // The restore reserves the sandbox's full share itself.
    if (pooled) this.budget?.releaseHold(holdKey(key));
    if (pooled && (!pooled.vm.running || pooled.pager.state !== 'parked')) {
      this.log.warn({ pid: pooled.vm.pid, pager: pooled.pager.state }, 'a pooled VM died while waiting');
      await discardPooled(pooled);
      return undefined;
    }
    return pooled;
  }

  /** Keeps a VM of `shape` ready from now on (the agent's default shape, at start). */
  prepare(shape: VmShape): void {
    this.#remember(shapeKey(shape));
    this.refill(shape);
  }

  /**
   * Launches a VM of `shape` in the background unless one is ready or launching. Called once a restore of
   * that shape is done, so the launch competes with a running guest, not with the restore.
   */
  refill(shape: VmShape): void {
    const key = shapeKey(shape);
    if (this.#closed || this.#ready.has(key) || this.#launching.has(key) || !this.#recent.includes(key))
      return;
    // Only speed is lost when the budget has no room for a QEMU ahead.
    if (this.budget && !this.budget.tryHold(holdKey(key), POOLED_QEMU_MIB)) return;
    const launching = launchPooled(this.config, this.slots, shape, this.log)
      .then((pooled) => {
        // Once closing, close() discards what is ready.
        if (this.#closed || this.#recent.includes(key)) {
          this.#ready.set(key, pooled);
          return pooled;
        }
        this.budget?.releaseHold(holdKey(key));
        this.#discardInBackground(pooled);
        return undefined;
      })
      // Only speed is lost: a restore launches its own QEMU when none is pooled.
      .catch((err) => {
        this.log.warn({ err }, 'cannot launch a pooled VM');
        this.budget?.releaseHold(holdKey(key));
        return undefined;
      })
      .finally(() => this.#launching.delete(key));
    this.#launching.set(key, launching);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#launching.values());
    for (const [key, pooled] of this.#ready) {
      await discardPooled(pooled);
      this.budget?.releaseHold(holdKey(key));
    }
    this.#ready.clear();
  }

  #remember(key: string): void {
    this.#recent = [key, ...this.#recent.filter((k) => k !== key)];
    for (const old of this.#recent.splice(this.config.vmPoolShapes)) {
      const pooled = this.#ready.get(old);
      this.#ready.delete(old);
      if (pooled) {
        this.budget?.releaseHold(holdKey(old));
        this.#discardInBackground(pooled);
      }
    }
  }

  #discardInBackground(pooled: PooledVm): void {
    void discardPooled(pooled).catch((err) => this.log.warn({ err }, 'cannot discard a pooled VM'));
  }
}

function holdKey(key: string): string {
  return `pool:${key}`;
}

function shapeKey(shape: VmShape): string {
  return JSON.stringify([
    shape.vcpus,
    shape.memoryMib,
    shape.image.kernel,
    shape.image.initrd,
    shape.image.rootfs,
  ]);
}

async function launchPooled(
  config: AgentConfig,
  slots: NetworkSlotPool,
  shape: VmShape,
  log: Logger,
): Promise<PooledVm> {
  const name = randomBytes(6).toString('hex');
  const { dir, memoryPrefix } = poolPaths(config);
  const runDir = join(dir, name);
  const memoryFile = join(config.shmDir, `${memoryPrefix}${name}.mem`);
  const socketPath = join(runDir, 'pager.sock');
  await mkdir(runDir, { recursive: true });
  const slot = await slots.take();
  let pager: Pager | undefined;
  let vm: Vm | undefined;
  let cgroup: VmCgroup | undefined;
  try {
    // Qcow2 layers keep the image's virtual size: the placeholder is the size the real disk will have.
    const diskBytes = (await stat(shape.image.rootfs)).size;
    pager = await Pager.listen({
      socketPath,
      memoryBytes: shape.memoryMib * 1024 * 1024,
      logger: log.child({ component: 'pager', pooled: name }),
      trackDirty: true,
    });
    const spec = vmSpec(config, shape, { runDir, memoryFile }, slot, { placeholderBytes: diskBytes });
    ({ vm, cgroup } = await launchVm(
      config,
      {
        ...spec,
        incoming: true,
        uffd: { socketPath, trackDirty: true, reconnectMs: config.pagerReconnectMs },
      },
      log,
    ));
    const launched = vm;
    await Promise.race([
      pager.attached,
      launched.exited.then((exit) => {
        throw new Error(`pooled QEMU exited before its handoff (code ${exit.code})`);
      }),
    ]);
    return { vm, pager, slot, memoryFile, ...(cgroup && { cgroup }) };
  } catch (err) {
    await vm?.kill();
    await removeVmCgroup(cgroup);
    await pager?.close();
    await destroyNetworkSlot(slot.netns);
    await rm(memoryFile, { force: true });
    await rm(runDir, { recursive: true, force: true });
    throw err;
  }
}

/** Frees everything a pooled VM holds (it was never used, or its restore failed). */
export async function discardPooled(pooled: PooledVm): Promise<void> {
  await pooled.vm.kill();
  await removeVmCgroup(pooled.cgroup);
  await pooled.pager.close();
  await destroyNetworkSlot(pooled.slot.netns);
  await rm(pooled.memoryFile, { force: true });
  await rm(pooled.vm.spec.runDir, { recursive: true, force: true });
}
