// Pause, resume, fork and templates: the sandbox lifecycle built on the snapshot directory (snapshot/).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeRanges } from '@amber/pager';
import type { Logger } from 'pino';
import { saveHeldConnection } from './envd/resumed-connection.js';
import { AgentError } from './errors.js';
import { newSandboxId } from './ids.js';
import type { EgressRules } from './network/egress-rules.js';
import type { NetworkSlot } from './network/network-slot.js';
import { pauseFailed } from './pause-errors.js';
import { learnWorkingSet, type PrefetchPolicy, prefetchOption, recordWorkingSet } from './prefetch-policy.js';
import { restoreSandbox } from './runtime.js';
import type { Sandbox, SandboxRecord, SandboxRuntime } from './sandbox.js';
import type { SandboxHost } from './sandbox-host.js';
import { captureGeneration, mergeGenerations } from './snapshot/capture.js';
import { cloneCommitted } from './snapshot/clone.js';
import {
  type CommittedSnapshot,
  linkWorkingSet,
  removeLiveDisks,
  requireCommitted,
} from './snapshot/layout.js';
import { type TemplateRecord, TemplateStore, validateTemplateName } from './templates.js';

export const MAX_FORKS = 16;

export interface SpawnInput {
  vcpus: number;
  memoryMib: number;
  ttlSeconds: number;
  template: string;
  metadata: Record<string, string>;
  prefetch: PrefetchPolicy;
  allowInternet: boolean;
  egressRules?: EgressRules;
}

export class SandboxSnapshots {
  readonly templates: TemplateStore;

  constructor(
    private readonly manager: SandboxHost,
    private readonly log: Logger,
  ) {
    this.templates = new TemplateStore(manager.config.home);
  }

  async pause(id: string): Promise<{ record: SandboxRecord; generationBytes: number }> {
    const sandbox = this.manager.get(id);
    return this.manager.locks.run(sandbox.id, async () => {
      const runtime = this.manager.requireRunning(sandbox);
      const log = this.log.child({ sandbox: sandbox.id });
      const paths = this.manager.paths(sandbox.id);
      const started = performance.now();
      sandbox.state = 'pausing';
      log.info('pause started');
      let generationBytes: number;
      let generation: number;
      try {
        await this.manager.persist(sandbox);
        ({ generationBytes, generation } = await this.capture(runtime, sandbox, { keepRunning: false }));
      } catch (err) {
        sandbox.state = 'running';
        // A restarting agent treats 'pausing' and 'running' alike; a full disk may refuse this write too.
        await this.manager
          .persist(sandbox)
          .catch((recordErr) => log.error({ err: recordErr }, 'cannot write the sandbox record'));
        throw pauseFailed(err, paths.snapshot);
      }
      if (runtime.pager) {
        await recordWorkingSet(runtime.pager, paths.snapshot, (err) =>
          log.warn({ err }, 'cannot record the working set'),
        );
      }
      await this.manager.release(sandbox);
      await removeLiveDisks(paths.snapshot);
      sandbox.state = 'paused';
      sandbox.lazyMemory = false;
      // The generation is committed: a record that still says 'pausing' brings it back paused all the same.
      await this.manager
        .persist(sandbox)
        .catch((err) => log.error({ err }, 'cannot write the sandbox record; it is paused all the same'));
      if (generation + 1 >= this.manager.config.generationCap) {
        await mergeGenerations(paths.snapshot, log)
          .then(() => {
            sandbox.generations = 1;
            return this.manager.persist(sandbox);
          })
          .catch((err) => log.error({ err }, 'merge failed; the unmerged chain stays valid'));
      }
      log.info({ ms: Math.round(performance.now() - started), generationBytes }, 'sandbox paused');
      return { record: this.manager.record(sandbox), generationBytes };
    });
  }

  /**
   * Stops the VM while its memory, devices and disk become the next committed generation. Pages taken
   * from the pager's dirty log are kept until a capture commits, so a failed attempt loses none of them.
   */
  private async capture(
    runtime: SandboxRuntime,
    sandbox: Sandbox,
    options: { keepRunning: boolean; settleMs?: number },
  ) {
    const { keepRunning, settleMs = 0 } = options;
    const log = this.log.child({ sandbox: sandbox.id });
    const flushed = await runtime.envd.sync().catch((err) => {
      log.warn({ err }, 'guest sync failed; the snapshot stays consistent');
      return undefined;
    });
    // Work the guest is still doing when it stops is redone after every restore, where all code is new to
    // an emulating hypervisor: envd's loose ends and kernel housekeeping (timers, RCU) after the /sync.
    try {
      if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
      if (!(await runtime.vm.waitIdle(SETTLE))) log.debug('the guest was still busy when it stopped');
      await runtime.vm.pause();
    } catch (err) {
      flushed?.release();
      throw err;
    }
    // While the guest is stopped; closed silently, so the guest in the snapshot keeps its end open.
    const connection = saveHeldConnection(flushed, log);
    const dirty = runtime.pager
      ? mergeRanges([...(runtime.carriedDirty ?? []), ...runtime.pager.takeDirtyRanges()])
      : undefined;
    let captured: Awaited<ReturnType<typeof captureGeneration>>;
    try {
      captured = await captureGeneration({
        vm: runtime.vm,
        dir: this.manager.paths(sandbox.id).snapshot,
        ramPath: this.manager.paths(sandbox.id).memory,
        disk: runtime.disk,
        dirty,
        keepRunning,
        connection,
        log,
      });
    } catch (err) {
      runtime.carriedDirty = dirty;
      // The sandbox runs on as before; its committed snapshot is untouched.
      await runtime.vm.resume().catch((resumeErr) => log.error({ err: resumeErr }, 'cannot continue the VM'));
      throw err;
    }
    runtime.carriedDirty = [];
    runtime.disk = captured.disk;
    sandbox.generations = captured.header.generation + 1;
    if (keepRunning) await runtime.vm.resume();
    return { generationBytes: captured.generationBytes, generation: captured.header.generation };
  }

  async resume(
    id: string,
    options: { prefetch?: PrefetchPolicy; ttlSeconds?: number } = {},
  ): Promise<SandboxRecord> {
    const sandbox = this.manager.get(id);
    return this.manager.locks.run(sandbox.id, async () => {
      // A sandbox whose VM died ('error') can go back to its last snapshot, if it has one.
      if (sandbox.state !== 'paused' && sandbox.state !== 'error') {
        throw new AgentError('failed_precondition', `sandbox ${sandbox.id} is ${sandbox.state}, not paused`);
      }
      const paths = this.manager.paths(sandbox.id);
      const snapshot = await requireCommitted(paths.snapshot, `sandbox ${sandbox.id}`);
      await this.startFromSnapshot(
        sandbox,
        snapshot,
        options.prefetch ?? this.manager.config.defaults.prefetch,
        { ttlSeconds: options.ttlSeconds },
      );
      return this.manager.record(sandbox);
    });
  }

  /**
   * Restores `snapshot` (the sandbox's own directory) into a running VM; the caller holds the lock.
   * `exactFaults`: for a recording to learn from (the caller ends them once it is saved).
   */
  private async startFromSnapshot(
    sandbox: Sandbox,
    snapshot: CommittedSnapshot,
    policy: PrefetchPolicy,
    options: { ttlSeconds?: number | undefined; exactFaults?: boolean } = {},
  ) {
    const { ttlSeconds, exactFaults = false } = options;
    const started = performance.now();
    const paths = this.manager.paths(sandbox.id);
    this.manager.reserveMemory(sandbox);
    const previous = sandbox.state;
    // Not persisted: after a crash a sandbox with a committed snapshot comes back paused either way, and
    // each record write costs a restore two fsyncs.
    sandbox.state = 'resuming';
    try {
      const request = {
        id: sandbox.id,
        vcpus: sandbox.vcpus,
        memoryMib: sandbox.memoryMib,
        image: await this.manager.imageFor(sandbox.imageId),
        paths,
        snapshot,
        prefetch: await prefetchOption(policy, paths.snapshot),
        exactFaults,
        network: (slot: NetworkSlot) => this.manager.openEgress(sandbox, slot),
      };
      const restore = () =>
        restoreSandbox(
          this.manager.config,
          this.manager.slots,
          this.manager.pool,
          request,
          this.log.child({ sandbox: sandbox.id }),
        );
      const runtime = await this.manager.restores.run(restore);
      this.manager.attach(sandbox, runtime);
      sandbox.lazyMemory = true;
      sandbox.state = 'running';
      sandbox.error = '';
      if (ttlSeconds) sandbox.ttlSeconds = ttlSeconds;
      sandbox.expiresAtMs = Date.now() + sandbox.ttlSeconds * 1000;
      // Not waited for (two fsyncs, 8-17 ms of a ~120 ms resume here): only a restarting agent reads the
      // record, and it brings a sandbox with a committed snapshot back paused whatever the record says; a
      // lazily restored QEMU dies with the agent's pager. Later writes queue behind this one.
      this.manager.persistInBackground(sandbox);
      this.log.info({ sandbox: sandbox.id, ms: Math.round(performance.now() - started) }, 'sandbox resumed');
    } catch (err) {
      // Attached but not usable (its way out could not be opened): everything it holds goes.
      if (sandbox.runtime) await this.manager.release(sandbox);
      this.manager.budget.release(sandbox.id);
      sandbox.state = previous;
      await this.manager.persist(sandbox);
      throw err;
    }
  }

  /**
   * A committed snapshot of the sandbox's current state, cloned into `dest` under the sandbox's lock. A
   * running guest first gets `settleMs` to finish what it started.
   */
  private async snapshotInto(
    id: string,
    dest: string,
    settleMs: number,
  ): Promise<{ sandbox: Sandbox; snapshot: CommittedSnapshot }> {
    const sandbox = this.manager.get(id);
    return this.manager.locks.run(sandbox.id, async () => {
      if (sandbox.state === 'running' && sandbox.runtime) {
        await this.capture(sandbox.runtime, sandbox, { keepRunning: true, settleMs });
        // Its disk moved to a new overlay: a restarted agent adopts the VM only if the record says so.
        this.manager.persistInBackground(sandbox);
      } else if (sandbox.state !== 'paused') {
        throw new AgentError('failed_precondition', `sandbox ${sandbox.id} is ${sandbox.state}`);
      }
      const own = await requireCommitted(this.manager.paths(sandbox.id).snapshot, `sandbox ${sandbox.id}`);
      await cloneCommitted(own, dest);
      return { sandbox, snapshot: await requireCommitted(dest, dest) };
    });
  }

  async createTemplate(id: string, name: string): Promise<TemplateRecord> {
    validateTemplateName(name);
    // Before the capture and its settle, not after them.
    await this.templates.requireFree(name);
    const staging = join(this.manager.config.home, 'staging', newSandboxId());
    try {
      // Restored by every spawn, so worth a wait once; a fork is waited for and restored a few times.
      const settleMs = this.manager.config.templateSettleMs;
      const { sandbox, snapshot } = await this.snapshotInto(id, staging, settleMs);
      const record = await this.templates.create(
        {
          name,
          vcpus: sandbox.vcpus,
          memoryMib: sandbox.memoryMib,
          imageId: sandbox.imageId,
          sourceSandboxId: sandbox.id,
          createdAtMs: Date.now(),
        },
        snapshot,
      );
      this.log.info(
        { template: name, sandbox: sandbox.id, memoryBytes: record.memoryBytes, diskBytes: record.diskBytes },
        'template created',
      );
      return record;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async deleteTemplate(name: string): Promise<void> {
    await this.templates.delete(validateTemplateName(name));
    this.log.info({ template: name }, 'template deleted');
  }

  /** Spawns a sandbox from a template; vcpus and memory are the template's. */
  async spawnFromTemplate(input: SpawnInput, requested: { vcpus?: number; memoryMib?: number }) {
    const template = await this.templates.get(input.template);
    for (const [field, wanted, has] of [
      ['vcpus', requested.vcpus, template.vcpus],
      ['memory_mib', requested.memoryMib, template.memoryMib],
    ] as const) {
      if (wanted !== undefined && wanted !== has) {
        throw new AgentError(
          'invalid_argument',
          `template ${template.name} has ${field} ${has}; a sandbox from it cannot have ${wanted} (leave it unset)`,
        );
      }
    }
    const snapshot = await this.templates.snapshot(template.name);
    return this.spawn(
      snapshot,
      { ...input, vcpus: template.vcpus, memoryMib: template.memoryMib, imageId: template.imageId },
      true,
    );
  }

  async fork(id: string, count: number, ttlSeconds?: number): Promise<SandboxRecord[]> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_FORKS) {
      throw new AgentError('invalid_argument', `count must be between 1 and ${MAX_FORKS}, got ${count}`);
    }
    const staging = join(this.manager.config.home, 'staging', newSandboxId());
    try {
      const { sandbox, snapshot } = await this.snapshotInto(id, staging, 0);
      await this.shareWorkingSet(sandbox, staging);
      const input = {
        vcpus: sandbox.vcpus,
        memoryMib: sandbox.memoryMib,
        ttlSeconds: ttlSeconds || sandbox.ttlSeconds,
        template: sandbox.template,
        metadata: { ...sandbox.metadata },
        prefetch: this.manager.config.defaults.prefetch,
        imageId: sandbox.imageId,
        allowInternet: sandbox.allowInternet ?? false,
        ...(sandbox.egressRules && { egressRules: sandbox.egressRules }),
      };
      const results = await Promise.allSettled(
        Array.from({ length: count }, () => this.spawn(snapshot, input)),
      );
      const forks = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        for (const fork of forks) await this.manager.destroy(fork.id).catch(() => undefined);
        throw failed.reason;
      }
      return forks;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /**
   * The source's recording goes with a fork's snapshot (forks resume exactly its memory): what a lazily
   * restored source has touched so far, or what a paused one recorded. Only speed depends on it.
   */
  private async shareWorkingSet(source: Sandbox, dir: string): Promise<void> {
    const pager = source.runtime?.pager;
    const noWorkingSet = (err: unknown) =>
      this.log.warn({ err, sandbox: source.id }, 'forks start without a working set');
    if (pager) await recordWorkingSet(pager, dir, noWorkingSet);
    else await linkWorkingSet(this.manager.paths(source.id).snapshot, dir).catch(noWorkingSet);
  }

  /**
   * A new sandbox whose snapshot directory is a hard-linked clone of `snapshot`, restored lazily. `learn`:
   * record this spawn's working set in `snapshot.dir` if it has none (templates, not forks).
   */
  private async spawn(snapshot: CommittedSnapshot, input: SpawnInput & { imageId: string }, learn = false) {
    const sandbox = this.manager.register({ ...input, imageId: input.imageId });
    const paths = this.manager.paths(sandbox.id);
    try {
      await this.manager.locks.run(sandbox.id, async () => {
        // Its files are made once it is admitted, not all of a burst's at once: the first restores then share
        // the main thread with a few others' file work instead of all of it. Admitted are twice the restores
        // at once, so the next ones' file work (mostly waiting for fsyncs) overlaps the running ones' CPU.
        const exactFaults = await this.manager.admissions.run(async () => {
          await cloneCommitted(snapshot, paths.snapshot);
          // The source's working set (a template's, learnt at its first spawn) is the clone's first prefetch.
          const learnt = await linkWorkingSet(snapshot.dir, paths.snapshot);
          await this.manager.persist(sandbox);
          // Single-page faults cost this one spawn ~80 ms (1,250 faults to ready against 570 windows here);
          // every later spawn then fetches ~1,400 pages ahead instead of ~4,550 (bench -- concurrency: CPU
          // per spawn ~148 -> ~123-142 ms, idle RSS 71 -> 57 MiB).
          const exact = learn && !learnt;
          await this.startFromSnapshot(
            sandbox,
            await requireCommitted(paths.snapshot, sandbox.id),
            input.prefetch,
            { exactFaults: exact },
          );
          return exact;
        });
        const pager = sandbox.runtime?.pager;
        if (exactFaults && pager) {
          // The pages this spawn touched on its way to ready and just after: what every later spawn needs first.
          await learnWorkingSet(pager, snapshot.dir, (err) =>
            this.log.warn({ err, template: snapshot.dir }, 'cannot record the template working set'),
          );
        }
      });
    } catch (err) {
      await this.manager.forget(sandbox);
      throw err;
    }
    return this.manager.record(sandbox);
  }
}

/**
 * Before a capture the guest gets up to 60 ms to go quiet for 20 ms. Measured on TCG, 3 paired runs of 11
 * template spawns: medians 214/195/216 ms against 218/214/226 without it; a 4 ms window did not help
 * (the kernel's timers and RCU callbacks come later). Costs a pause ~20-25 ms.
 */
const SETTLE = { quietMs: 20, maxMs: 60 };
