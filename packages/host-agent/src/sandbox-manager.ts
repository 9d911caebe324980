import { mkdir, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { type Image, loadImage } from '@amber/image';
import type { Logger } from 'pino';
import { oomKills } from './cgroups.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import type { AgentConfig } from './config.js';
import type { ExecEvent } from './envd/envd-client.js';
import { AgentError, notFound } from './errors.js';
import { pauseEveryRunning, type StopReport } from './graceful-stop.js';
import { type ExecInput, execInGuest, readGuestFile, writeGuestFile } from './guest-io.js';
import { newSandboxId } from './ids.js';
import { KeyedMutex } from './keyed-mutex.js';
import { MemoryBudget } from './memory-budget.js';
import { type Egress, EgressHost } from './network/egress.js';
import { noRules } from './network/egress-rules.js';
import { type NetworkSlot, namespacePrefix } from './network/network-slot.js';
import { NetworkSlotPool } from './network/slot-pool.js';
import type { PrefetchPolicy } from './prefetch-policy.js';
import { qemuOverheadMib } from './qemu-overhead.js';
import { RecordWriter } from './record-writer.js';
import type { Recovered } from './recovery.js';
import { bootSandbox, teardownRuntime } from './runtime.js';
import {
  liveRecord,
  type Sandbox,
  type SandboxRecord,
  type SandboxRuntime,
  sandboxPaths,
} from './sandbox.js';
import type { SandboxHost, SandboxRegistration } from './sandbox-host.js';
import { SandboxSnapshots } from './sandbox-snapshots.js';
import { removeLiveDisks } from './snapshot/layout.js';
import {
  type CreateInput,
  validateCreate,
  validateEgressRules,
  validateSandboxId,
  validateTtl,
} from './validate.js';
import { VmPool } from './vm-pool.js';

/** Two: a fork or a burst of resumes takes several at once; each idle slot is only a namespace and a tap. */
const NETWORK_SLOTS_AHEAD = 2;

/** Owns every sandbox on this host: their records, runtimes, memory reservations and time to live. */
export class SandboxManager implements SandboxHost {
  private readonly sandboxes = new Map<string, Sandbox>();
  /** One operation at a time per sandbox. */
  readonly locks = new KeyedMutex();
  private readonly records = new RecordWriter();
  readonly budget: MemoryBudget;
  readonly snapshots: SandboxSnapshots;
  /** Network namespaces made ahead, so a boot or restore does not wait for one. */
  readonly slots: NetworkSlotPool;
  /** QEMU launched ahead for restores. */
  readonly pool: VmPool;
  /** Outbound internet for the sandboxes that have it. */
  readonly egress: EgressHost;
  /** Restores (resumes, template spawns, forks) running at once; the rest queue. */
  readonly restores: ConcurrencyLimit;
  /** Spawns (template and fork) making their files or restoring: twice `restores`. */
  readonly admissions: ConcurrencyLimit;
  private reaper?: NodeJS.Timeout;

  constructor(
    readonly config: AgentConfig,
    readonly image: Image,
    private readonly log: Logger,
  ) {
    this.budget = new MemoryBudget(config.memoryBudgetMib);
    this.restores = new ConcurrencyLimit(config.maxConcurrentRestores);
    this.admissions = new ConcurrencyLimit(config.maxConcurrentRestores * 2);
    this.snapshots = new SandboxSnapshots(this, log);
    this.egress = new EgressHost(config.home, config.egressAllow, log.child({ component: 'egress' }));
    // Slots come with the way out most sandboxes take; openEgress() adjusts the others.
    this.slots = new NetworkSlotPool(
      namespacePrefix(config.home),
      NETWORK_SLOTS_AHEAD,
      log,
      config.allowInternetByDefault ? (netns) => this.egress.plan(netns) : undefined,
    );
    this.pool = new VmPool(config, this.slots, log.child({ component: 'vm-pool' }), this.budget);
  }

  /** The image a sandbox was built from (snapshots restore with the kernel they booted). */
  async imageFor(imageId: string): Promise<Image> {
    if (imageId === this.image.id) return this.image;
    const { image, problem } = await loadImage(join(this.config.cacheDir, 'images', imageId));
    if (!image) throw new AgentError('failed_precondition', `image ${imageId} is unusable: ${problem}`);
    return image;
  }

  paths(id: string) {
    return sandboxPaths(this.config.home, this.config.shmDir, id);
  }

  startReaper(intervalMs = 1000): void {
    this.reaper = setInterval(() => void this.reapExpired(), intervalMs);
    this.reaper.unref();
  }

  /**
   * Pauses every running sandbox (and those starting or resuming at the call), as a stopping agent must;
   * sandboxes whose pause fails are in the report by id, and keep their last committed snapshot.
   */
  async pauseAllForStop(): Promise<StopReport> {
    if (this.reaper) clearInterval(this.reaper);
    const live = new Set(['running', 'starting', 'resuming']);
    return pauseEveryRunning(
      {
        running: () => [...this.sandboxes.values()].filter((s) => live.has(s.state)).map((s) => s.id),
        pause: async (id) => {
          try {
            await this.snapshots.pause(id);
            return true;
          } catch (err) {
            // Failed to start, or paused, destroyed or lost its VM meanwhile: nothing left to pause.
            const now = this.sandboxes.get(id);
            if (now?.state !== 'running') return false;
            throw err;
          }
        },
      },
      Math.max(2, cpus().length),
      this.log.child({ component: 'stop' }),
    );
  }

  async close(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    await this.pool.close();
    await this.slots.close();
    await this.egress.close();
  }

  list(): SandboxRecord[] {
    return [...this.sandboxes.values()].map(toRecord);
  }

  /** Sandboxes found on disk at start (recovery.ts): paused, or running in a VM adopted from the last agent. */
  load(recovered: Recovered[]): void {
    for (const { record, runtime } of recovered) {
      const sandbox: Sandbox = { ...record };
      this.sandboxes.set(record.id, sandbox);
      if (!runtime) continue;
      try {
        this.reserveMemory(sandbox);
      } catch (err) {
        // Its VM holds the memory whatever the budget says (a smaller one configured since); new sandboxes
        // see less room until it goes.
        this.log.warn({ err, sandbox: record.id }, 'an adopted sandbox does not fit the memory budget');
      }
      this.attach(sandbox, runtime);
      sandbox.lazyMemory = runtime.pager !== undefined;
    }
  }

  record(sandbox: Sandbox): SandboxRecord {
    return toRecord(sandbox);
  }

  get(id: string): Sandbox {
    const sandbox = this.sandboxes.get(validateSandboxId(id));
    if (!sandbox) throw notFound('sandbox', id);
    return sandbox;
  }

  async create(input: CreateInput & { prefetch?: PrefetchPolicy }): Promise<SandboxRecord> {
    const valid = validateCreate(this.config, input);
    if (valid.template) {
      return this.snapshots.spawnFromTemplate(
        { ...valid, prefetch: input.prefetch ?? this.config.defaults.prefetch },
        { vcpus: input.vcpus, memoryMib: input.memoryMib },
      );
    }
    const sandbox = this.register({ ...valid, imageId: this.image.id });
    const paths = this.paths(sandbox.id);
    const log = this.log.child({ sandbox: sandbox.id });
    try {
      this.reserveMemory(sandbox);
      await this.locks.run(sandbox.id, async () => {
        await mkdir(paths.dir, { recursive: true });
        await this.persist(sandbox);
        const started = Date.now();
        const runtime = await bootSandbox(
          this.config,
          this.slots,
          {
            id: sandbox.id,
            vcpus: sandbox.vcpus,
            memoryMib: sandbox.memoryMib,
            image: this.image,
            paths,
            network: (slot) => this.openEgress(sandbox, slot),
          },
          log,
        );
        this.attach(sandbox, runtime);
        sandbox.state = 'running';
        // From ready, as after a restore: a boot on an emulated CPU takes seconds of the sandbox's time.
        sandbox.expiresAtMs = Date.now() + sandbox.ttlSeconds * 1000;
        await this.persist(sandbox);
        log.info({ ms: Date.now() - started, memoryMib: sandbox.memoryMib }, 'sandbox running');
      });
    } catch (err) {
      log.error({ err }, 'sandbox failed to start');
      await this.forget(sandbox);
      throw err instanceof AgentError
        ? err
        : new AgentError('internal', `sandbox failed to start: ${(err as Error).message}`, { cause: err });
    }
    return toRecord(sandbox);
  }

  /** A running sandbox's share of the memory budget: its guest RAM and its QEMU's own overhead. */
  reserveMemory(sandbox: Sandbox): void {
    this.budget.reserve(sandbox.id, sandbox.memoryMib + qemuOverheadMib(this.config));
  }

  /** A new sandbox record in the starting state (nothing on disk yet). */
  register(input: SandboxRegistration): Sandbox {
    const now = Date.now();
    const sandbox: Sandbox = {
      id: newSandboxId(),
      state: 'starting',
      vcpus: input.vcpus,
      memoryMib: input.memoryMib,
      template: input.template,
      metadata: input.metadata,
      createdAtMs: now,
      expiresAtMs: now + input.ttlSeconds * 1000,
      ttlSeconds: input.ttlSeconds,
      error: '',
      imageId: input.imageId,
      allowInternet: input.allowInternet,
      ...(!noRules(input.egressRules) && { egressRules: input.egressRules }),
    };
    this.sandboxes.set(sandbox.id, sandbox);
    return sandbox;
  }

  /** Drops a sandbox that never started, with everything it had on disk. */
  async forget(sandbox: Sandbox): Promise<void> {
    this.sandboxes.delete(sandbox.id);
    await this.release(sandbox);
    await this.records.settled(sandbox.id);
    await rm(this.paths(sandbox.id).dir, { recursive: true, force: true });
  }

  /** Watches QEMU: an exit the agent didn't ask for marks the sandbox failed and frees its resources. */
  attach(sandbox: Sandbox, runtime: SandboxRuntime): void {
    sandbox.runtime = runtime;
    sandbox.qemuPid = runtime.vm.pid;
    runtime.vm.once('exit', (exit: { code: number | null; signal: string | null }) => {
      if (runtime.expectedExit) return;
      void this.locks.run(sandbox.id, async () => {
        if (sandbox.runtime !== runtime) return;
        const consoleTail = await runtime.vm.consoleTail(1000);
        sandbox.state = 'error';
        sandbox.error = `QEMU exited unexpectedly (code ${exit.code}, signal ${exit.signal})`;
        if (runtime.cgroup && (await oomKills(runtime.cgroup)) > 0)
          sandbox.error += `: killed by the kernel's OOM killer at its memory cap of ${sandbox.memoryMib + qemuOverheadMib(this.config)} MiB`;
        if (sandbox.generations) sandbox.error += '; its last snapshot can be resumed';
        this.log.error({ sandbox: sandbox.id, ...exit, console: consoleTail }, 'sandbox VM died');
        await this.release(sandbox);
        await removeLiveDisks(this.paths(sandbox.id).snapshot);
        await this.persist(sandbox);
      });
    });
  }

  /**
   * Gives the slot a starting sandbox will run in the way out it asked for, before its guest runs; the slot
   * usually has it already. Returns the way out, if any.
   */
  async openEgress(sandbox: Sandbox, slot: NetworkSlot): Promise<Egress | undefined> {
    if (!sandbox.allowInternet) {
      if (slot.egress) await this.egress.disable(slot.netns);
      return undefined;
    }
    const egress = slot.egress ?? (await this.egress.enable(slot.netns));
    // The one process its rules cost a resume; a fresh namespace has none to clear.
    const rules = sandbox.egressRules;
    if (rules && !noRules(rules)) await this.egress.applyRules(slot.netns, rules);
    return egress;
  }

  /**
   * Replaces a sandbox's outbound rules (E2B's updateNetwork: the whole set). A running sandbox's apply at
   * once; a paused one's on resume. Without internet they are kept for the record and change nothing.
   */
  async updateEgressRules(
    id: string,
    input: { allowOut?: unknown; denyOut?: unknown },
  ): Promise<SandboxRecord> {
    const rules = validateEgressRules(input);
    const sandbox = this.get(id);
    return this.locks.run(sandbox.id, async () => {
      if (!this.sandboxes.has(sandbox.id)) throw notFound('sandbox', id);
      const previous = sandbox.egressRules;
      sandbox.egressRules = noRules(rules) ? undefined : rules;
      try {
        // Not runtime.egress: a sandbox adopted after an agent crash has its way out without that handle.
        if (sandbox.runtime && sandbox.allowInternet)
          await this.egress.applyRules(sandbox.runtime.slot.netns, rules);
        await this.persist(sandbox);
      } catch (err) {
        sandbox.egressRules = previous;
        throw err;
      }
      this.log.info({ sandbox: sandbox.id, rules }, 'sandbox egress rules replaced');
      return toRecord(sandbox);
    });
  }

  /** Frees the VM, pager, network slot, guest RAM and memory reservation; keeps the record. */
  async release(sandbox: Sandbox): Promise<void> {
    const runtime = sandbox.runtime;
    sandbox.runtime = undefined;
    sandbox.qemuPid = undefined;
    if (runtime) {
      runtime.gone.abort(new AgentError('failed_precondition', `sandbox ${sandbox.id} stopped running`));
      await teardownRuntime(runtime, this.paths(sandbox.id));
    }
    this.budget.release(sandbox.id);
  }

  async destroy(id: string): Promise<void> {
    const sandbox = this.get(id);
    await this.locks.run(sandbox.id, async () => {
      if (!this.sandboxes.has(sandbox.id)) throw notFound('sandbox', id);
      sandbox.state = 'stopping';
      await this.release(sandbox);
      await this.records.settled(sandbox.id);
      await rm(this.paths(sandbox.id).dir, { recursive: true, force: true });
      this.sandboxes.delete(sandbox.id);
      this.log.info({ sandbox: sandbox.id }, 'sandbox destroyed');
    });
  }

  ping(id: string, ttlSeconds?: number): SandboxRecord {
    const sandbox = this.get(id);
    if (ttlSeconds !== undefined && ttlSeconds > 0) sandbox.ttlSeconds = validateTtl(this.config, ttlSeconds);
    sandbox.expiresAtMs = Date.now() + sandbox.ttlSeconds * 1000;
    return toRecord(sandbox);
  }

  private running(id: string): SandboxRuntime {
    return this.requireRunning(this.get(id));
  }

  requireRunning(sandbox: Sandbox): SandboxRuntime {
    const id = sandbox.id;
    if (sandbox.state !== 'running' || !sandbox.runtime) {
      throw new AgentError('failed_precondition', `sandbox ${id} is ${sandbox.state}, not running`);
    }
    return sandbox.runtime;
  }

  async *exec(id: string, input: ExecInput): AsyncGenerator<ExecEvent> {
    yield* execInGuest(this.running(id), input);
  }

  writeFile(id: string, path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
    return writeGuestFile(this.running(id), path, chunks);
  }

  async *readFile(id: string, path: string): AsyncGenerator<Uint8Array> {
    yield* readGuestFile(this.running(id), path);
  }

  private async reapExpired(): Promise<void> {
    const now = Date.now();
    for (const sandbox of this.sandboxes.values()) {
      // A paused sandbox holds no resources but disk, and is kept until destroyed (as E2B keeps them).
      if (sandbox.expiresAtMs > now || (sandbox.state !== 'running' && sandbox.state !== 'error')) continue;
      this.log.info({ sandbox: sandbox.id, state: sandbox.state }, 'sandbox expired');
      await this.destroy(sandbox.id).catch((err) =>
        this.log.error({ err, sandbox: sandbox.id }, 'reaping failed'),
      );
    }
  }

  /** Writes the sandbox's record durably; a sandbox's writes happen one after another, in call order. */
  persist(sandbox: Sandbox): Promise<void> {
    return this.records.write(this.paths(sandbox.id).record, toRecord(sandbox));
  }

  /** persist() without waiting, for a state a crash may lose; a failure is logged. */
  persistInBackground(sandbox: Sandbox): void {
    this.persist(sandbox).catch((err) =>
      this.log.error({ err, sandbox: sandbox.id }, 'cannot write the sandbox record'),
    );
  }
}

function toRecord(sandbox: Sandbox): SandboxRecord {
  const { runtime, live: _live, ...record } = sandbox;
  return { ...record, metadata: { ...record.metadata }, ...(runtime && { live: liveRecord(runtime) }) };
}
