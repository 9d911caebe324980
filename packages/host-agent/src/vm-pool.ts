import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Pager } from '@amber/pager';
import { setIgnoreShared, type Vm } from '@amber/vmm';
import type { Logger } from 'pino';
import { removeVmCgroup, type VmCgroup } from './cgroups.js';
import type { AgentConfig } from './config.js';
import { type VmShape, vmSpec } from './guest-vm.js';
import type { MemoryBudget } from './memory-budget.js';
import { destroyNetworkSlot, type NetworkSlot, namespacePrefix } from './network/network-slot.js';
import type { NetworkSlotPool } from './network/slot-pool.js';
import { POOLED_QEMU_MIB } from './qemu-overhead.js';
import { launchVm } from './vm-launch.js';

/** Relaunched at once when a restore ends with a core to spare: two, as a launch takes longer than a spawn. */
const AHEAD_WHILE_BUSY = 2;
/** How long no restore must run before the pool fills to its depth (a spawn's round trip is ~10 ms). */
const REFILL_QUIET_MS = 250;

/** A QEMU waiting for a restore: in its namespace, guest RAM handed to a parked pager, disk a placeholder. */
export interface PooledVm {
  /** Its run dir's name, and its budget hold's. */
  name: string;
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
 * snapshot. `config.vmPoolDepth` VMs are kept per recently used shape (vcpus, memory, image;
 * `config.vmPoolShapes` of them); each is used once. While restores go on, only `AHEAD_WHILE_BUSY` are
 * relaunched, and only with a core no restore is using (so back-to-back restores never wait for a launch);
 * the rest of the depth once restores have been quiet for `REFILL_QUIET_MS`, so a burst that drains the
 * pool does not share the CPU with its refills.
 */
export class VmPool {
  readonly #ready = new Map<string, PooledVm[]>();
  readonly #launching = new Map<string, Set<Promise<void>>>();
  /** Discards not waited for by their caller; close() waits, or a stopping agent leaves their namespaces. */
  readonly #discarding = new Set<Promise<void>>();
  readonly #shapes = new Map<string, VmShape>();
  #recent: string[] = [];
  /** Restores between their take() and restored(). */
  #restoring = 0;
  #quietTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly slots: NetworkSlotPool,
    private readonly log: Logger,
    /** A pooled QEMU holds its share of the budget from its launch until a restore takes it. */
    private readonly budget?: MemoryBudget,
    /** Restores that keep every core busy (under TCG each is CPU-bound until its guest answers). */
    private readonly cores = availableParallelism(),
  ) {}

  /** A live pooled VM of `shape` if one is ready or nearly (already launching), else undefined. */
  async take(shape: VmShape): Promise<PooledVm | undefined> {
    this.#restoring++;
    clearTimeout(this.#quietTimer);
    try {
      return await this.#takeReady(shape);
    } catch (err) {
      this.#restoring--;
      throw err;
    }
  }

  async #takeReady(shape: VmShape): Promise<PooledVm | undefined> {
    const key = this.#remember(shape);
    // Concurrent takes may wait on the same launches: only those that find a VM ready get one.
    const launching = this.#launching.get(key);
    if (this.#readyOf(key).length === 0 && launching?.size) await Promise.race(launching);
    const ready = this.#readyOf(key);
    for (let pooled = ready.shift(); pooled; pooled = ready.shift()) {
      // The restore reserves the sandbox's full share itself.
      this.budget?.releaseHold(holdKey(pooled));
      if (pooled.vm.running && pooled.pager.state === 'parked') return pooled;
      this.log.warn({ pid: pooled.vm.pid, pager: pooled.pager.state }, 'a pooled VM died while waiting');
      await discardPooled(pooled);
    }
    return undefined;
  }

  /** How many VMs of `shape` are launched and waiting. */
  readyCount(shape: VmShape): number {
    return this.#ready.get(shapeKey(shape))?.length ?? 0;
  }

  /** How many VMs of every shape are launched and waiting. */
  get readyTotal(): number {
    return [...this.#ready.values()].reduce((total, ready) => total + ready.length, 0);
  }

  /** Keeps VMs of `shape` ready from now on (the agent's default shape, at start). */
  prepare(shape: VmShape): void {
    this.#fill(this.#remember(shape), this.config.vmPoolDepth);
  }

  /**
   * The restore that called take() is over (done or failed). If fewer restores than cores still run, its
   * shape gets `AHEAD_WHILE_BUSY` VMs back now (back-to-back spawns never wait for a launch); with every
   * core taken by a restore, nothing is launched: a launch is ~50-100 ms of CPU the restores need more (a
   * burst of 20 on 2 cores launched two as its first restores ended, ~100 ms of QEMU alone). Every pooled
   * shape gets its full depth once no restore has run for `REFILL_QUIET_MS`.
   */
  restored(shape: VmShape): void {
    this.#restoring--;
    if (this.#closed) return;
    if (this.#restoring < this.cores)
      this.#fill(shapeKey(shape), Math.min(AHEAD_WHILE_BUSY, this.config.vmPoolDepth));
    if (this.#restoring > 0) return;
    clearTimeout(this.#quietTimer);
    this.#quietTimer = setTimeout(() => {
      for (const key of this.#recent) this.#fill(key, this.config.vmPoolDepth);
    }, REFILL_QUIET_MS);
    this.#quietTimer.unref();
  }

  /** Launches VMs of the shape in the background until `depth` are ready or launching. */
  #fill(key: string, depth: number): void {
    const shape = this.#shapes.get(key);
    // Shapes pushed out of the recent ones are forgotten: nothing is launched for them.
    if (this.#closed || !shape) return;
    const launching = this.#launching.get(key) ?? new Set<Promise<void>>();
    this.#launching.set(key, launching);
    while (this.#readyOf(key).length + launching.size < depth) {
      const name = randomBytes(6).toString('hex');
      // Only speed is lost when the budget has no room for a QEMU ahead.
      if (this.budget && !this.budget.tryHold(holdKey({ name }), POOLED_QEMU_MIB)) return;
      const launch: Promise<void> = launchPooled(this.config, this.slots, shape, name, this.log)
        .then((pooled) => {
          // Once closing, close() discards what is ready.
          if (this.#closed || this.#recent.includes(key)) return void this.#readyOf(key).push(pooled);
          this.budget?.releaseHold(holdKey(pooled));
          this.#discardInBackground(pooled);
        })
        // Only speed is lost: a restore launches its own QEMU when none is pooled.
        .catch((err) => {
          this.log.warn({ err }, 'cannot launch a pooled VM');
          this.budget?.releaseHold(holdKey({ name }));
        })
        .finally(() => launching.delete(launch));
      launching.add(launch);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#quietTimer);
    for (const launching of this.#launching.values()) await Promise.all(launching);
    await Promise.all(this.#discarding);
    for (const pooled of [...this.#ready.values()].flat()) {
      await discardPooled(pooled);
      this.budget?.releaseHold(holdKey(pooled));
    }
    this.#ready.clear();
  }

  #remember(shape: VmShape): string {
    const key = shapeKey(shape);
    this.#shapes.set(key, shape);
    this.#recent = [key, ...this.#recent.filter((k) => k !== key)];
    for (const old of this.#recent.splice(this.config.vmPoolShapes)) {
      this.#shapes.delete(old);
      for (const pooled of this.#readyOf(old).splice(0)) {
        this.budget?.releaseHold(holdKey(pooled));
        this.#discardInBackground(pooled);
      }
    }
    return key;
  }

  #readyOf(key: string): PooledVm[] {
    const ready = this.#ready.get(key) ?? [];
    this.#ready.set(key, ready);
    return ready;
  }

  #discardInBackground(pooled: PooledVm): void {
    const discard = discardPooled(pooled)
      .catch((err) => this.log.warn({ err }, 'cannot discard a pooled VM'))
      .finally(() => this.#discarding.delete(discard));
    this.#discarding.add(discard);
  }
}

function holdKey(pooled: Pick<PooledVm, 'name'>): string {
  return `pool:${pooled.name}`;
}

function shapeKey(shape: VmShape): string {
  return JSON.stringify([
    shape.vcpus,
    shape.memoryMib,
    shape.image.kernel,
    shape.image.initrd,
    shape.image.rootfs,
    shape.machine,
    shape.hpet,
  ]);
}

async function launchPooled(
  config: AgentConfig,
  slots: NetworkSlotPool,
  shape: VmShape,
  name: string,
  log: Logger,
): Promise<PooledVm> {
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
    // What the restore's device-state load needs (guest RAM is the pager's), set now rather than on its path.
    await setIgnoreShared(vm, true);
    return { name, vm, pager, slot, memoryFile, ...(cgroup && { cgroup }) };
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
