// A pager serves one guest's memory from a memsnap snapshot. It listens on a unix socket for the
// shim's handoff (the userfaultfd plus Firecracker's region list), then runs the native fault loop;
// this class is the control plane around it: validation, dirty tracking, prefetch, detach and teardown.
import { closeSync, fstatSync, openSync, rmSync } from 'node:fs';
import {
  acceptWithFds,
  eventfdCreate,
  eventfdSignal,
  FaultServer,
  type FaultServerEvent,
  listenUnix,
  type PrefetchPlan,
  seekDataRanges,
  shimEnv,
} from '@amber/native';
import type { Logger } from 'pino';
import { DirtyTracker, type TrackingMode } from './dirty-tracker.js';
import { PagerError } from './errors.js';
import { type GuestRegionMapping, parseHandoff } from './handoff-message.js';
import { describeServerEvent } from './server-events.js';
import { ShimLink } from './shim-link.js';
import { type OpenedSnapshot, openSnapshot, type SnapshotSource } from './snapshot-source.js';
import { type PagerStats, withPercentiles } from './stats.js';
import { mergeWorkingSets, saveWorkingSet } from './working-set.js';

export type PrefetchOption = 'none' | 'all' | { workingSet: readonly number[]; thenAll?: boolean };

export interface PagerOptions {
  /** Where the shim connects (AMBER_UFFD_SOCKET). A stale file there is replaced. */
  socketPath: string;
  /** memsnap snapshot directory: memfile.header plus the memfile.<buildId> files it references. */
  snapshotDir?: string;
  /** Or a header already in memory (e.g. parsed by the caller) with its data files' paths. */
  snapshot?: SnapshotSource;
  /** A child logger from the caller; the pager logs structured events to it. */
  logger: Logger;
  /** Pages installed per fault (aligned window, clamped to the region). Default 8. */
  pagesPerFault?: number;
  /** Install pages write-protected and report written pages (the shim must register WP: shimEnv). */
  trackDirty?: boolean;
  prefetch?: PrefetchOption;
  /** Record the pages faults install, in first-touch order, for workingSet()/saveWorkingSet(). */
  recordWorkingSet?: boolean;
  /**
   * Faults install only their own page until `endExactFaults()`, so the recording is what the guest read,
   * not the neighbours a window brings along (a template's first spawn here: ~1,250 pages to ready against ~4,550).
   */
  exactFaults?: boolean;
  /**
   * Without a snapshot: the guest RAM size the handoff must carry. The pager then acknowledges the handoff
   * and holds the userfaultfd ('parked') until `serve()` names the snapshot; used for a VM launched ahead of
   * the restore it will serve.
   */
  memoryBytes?: number;
  /** How long to wait for the handoff. Default 30 s. */
  handoffTimeoutMs?: number;
  /**
   * Take over a guest whose earlier pager went away (the host agent restarted; the shim kept the VM waiting
   * and hands the same userfaultfd over again): the pages `memoryFile` already holds were installed by that
   * pager, so they are not served again, and since what it saw written is lost they all count as written
   * for the next takeDirtyRanges. The guest must not have removed memory (no balloon), whose holes would
   * otherwise be served from the snapshot again.
   */
  adoptMemoryFile?: string;
  /** Errors that do not stop the pager (storage retries, unexpected uffd errors). */
  onError?: (error: PagerError) => void;
}

export interface Attachment {
  /** The faulting process (QEMU), from SO_PEERCRED. */
  pid: number;
  regions: readonly GuestRegionMapping[];
  /** How dirty pages are tracked, when trackDirty is set. */
  tracking: TrackingMode | undefined;
}

type State = 'listening' | 'parked' | 'attached' | 'detached' | 'peer_gone' | 'failed' | 'closed';

export class Pager {
  readonly socketPath: string;
  /** Resolves once a handoff was accepted and the fault loop runs; rejects with a PagerError. */
  readonly attached: Promise<Attachment>;
  /** Resolves when the shim's connection ends (the VM exited, or detach/close). */
  readonly disconnected: Promise<void>;

  #options: PagerOptions;
  readonly #log: Logger;
  #snapshot: OpenedSnapshot | undefined;
  /** The handoff's userfaultfd while parked. */
  #parkedUffd: number | undefined;
  #state: State = 'listening';
  #listenFd: number | undefined;
  #cancelFd: number | undefined;
  #server: FaultServer | undefined;
  #link: ShimLink | undefined;
  #tracker: DirtyTracker | undefined;
  #attachment: Attachment | undefined;
  #prefetchOrder: readonly number[];
  #resolveDisconnected!: () => void;

  private constructor(options: PagerOptions, snapshot: OpenedSnapshot | undefined) {
    this.#options = options;
    this.#log = options.logger;
    this.#snapshot = snapshot;
    this.#prefetchOrder = typeof options.prefetch === 'object' ? options.prefetch.workingSet : [];
    this.socketPath = options.socketPath;
    this.disconnected = new Promise((resolve) => {
      this.#resolveDisconnected = resolve;
    });
    rmSync(options.socketPath, { force: true });
    this.#listenFd = listenUnix(options.socketPath);
    this.#cancelFd = eventfdCreate();
    this.attached = this.#accept();
    this.attached.catch(() => {}); // callers that never await must not crash the process
  }

  /** Opens the snapshot (unless parking, see `memoryBytes`) and starts listening for the handoff. */
  static async listen(options: PagerOptions): Promise<Pager> {
    const from = options.snapshotDir ?? options.snapshot;
    if (from === undefined) {
      if (!(Number.isSafeInteger(options.memoryBytes) && (options.memoryBytes as number) > 0))
        throw new PagerError('no_snapshot', 'PagerOptions needs snapshotDir, snapshot or memoryBytes');
      return new Pager(options, undefined);
    }
    const snapshot = await openSnapshot(from);
    try {
      return new Pager(options, snapshot);
    } catch (cause) {
      snapshot.close();
      throw cause;
    }
  }

  /**
   * Starts serving a parked handoff from `source`, whose memory must be the size the pager was parked
   * with. Prefetch and working-set options given here replace those given to `listen`.
   */
  async serve(
    source: Pick<PagerOptions, 'snapshotDir' | 'snapshot' | 'prefetch' | 'recordWorkingSet' | 'exactFaults'>,
  ): Promise<void> {
    if (this.#state !== 'parked' || this.#parkedUffd === undefined || !this.#attachment)
      throw new PagerError('not_attached', `the pager is ${this.#state}, not parked`);
    const from = source.snapshotDir ?? source.snapshot;
    if (from === undefined) throw new PagerError('no_snapshot', 'serve() needs snapshotDir or snapshot');
    const snapshot = await openSnapshot(from);
    const uffd = this.#parkedUffd;
    const attachment = this.#attachment;
    // Closed, or the guest gone, while the snapshot opened.
    if (this.#state !== 'parked' || uffd === undefined || !attachment) {
      snapshot.close();
      throw new PagerError('not_attached', `the pager is ${this.#state}, not parked`);
    }
    if (snapshot.header.size !== this.#options.memoryBytes) {
      snapshot.close();
      throw new PagerError(
        'bad_handoff',
        `the snapshot holds ${snapshot.header.size} bytes of memory, the parked guest ${this.#options.memoryBytes}`,
      );
    }
    this.#snapshot = snapshot;
    this.#options = { ...this.#options, ...source };
    this.#prefetchOrder = typeof source.prefetch === 'object' ? source.prefetch.workingSet : [];
    this.#parkedUffd = undefined;
    this.#serveFaults(uffd, snapshot, attachment);
  }

  /** Environment for QEMU (LD_PRELOAD of the shim) consistent with this pager's options. */
  shimEnv(memPath: string): Record<string, string> {
    return shimEnv({ memPath, socketPath: this.socketPath, trackDirty: this.#options.trackDirty ?? false });
  }

  get state(): State {
    return this.#state;
  }

  /** Guest memory size in bytes (the snapshot's, or the parked size). */
  get memorySize(): number {
    return this.#snapshot?.header.size ?? (this.#options.memoryBytes as number);
  }

  async #accept(): Promise<Attachment> {
    const timeoutMs = this.#options.handoffTimeoutMs ?? 30000;
    let accepted: Awaited<ReturnType<typeof acceptWithFds>>;
    try {
      accepted = await acceptWithFds(this.#listenFd as number, { timeoutMs, cancelFd: this.#cancelFd });
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      this.#state = this.#state === 'closed' ? 'closed' : 'failed';
      this.#stopListening();
      if (code === 'ECANCELED')
        throw new PagerError('closed', 'the pager was closed before a handoff arrived');
      if (code === 'ETIMEDOUT') {
        throw new PagerError('handoff_timeout', `no handoff on ${this.socketPath} within ${timeoutMs} ms`, {
          cause,
        });
      }
      throw new PagerError('bad_handoff', `accepting the handoff failed: ${String(cause)}`, { cause });
    }
    this.#stopListening(); // one pager, one guest
    const link = new ShimLink(accepted.fd);
    this.#link = link;
    link.closed.then(() => this.#onDisconnected());
    try {
      return this.#start(accepted.data, accepted.fds, accepted.pid);
    } catch (cause) {
      const err =
        cause instanceof PagerError
          ? cause
          : new PagerError('bad_handoff', String(cause), { cause: cause as Error });
      this.#state = 'failed';
      this.#log.error({ code: err.code, peerPid: accepted.pid }, `handoff refused: ${err.message}`);
      link.send(`error ${err.code}: ${err.message.replace(/\s+/g, ' ')}`);
      for (const fd of accepted.fds) closeSync(fd);
      await this.#server?.stop();
      this.#server = undefined;
      this.#tracker?.close();
      // Let the refusal reach the shim before hanging up.
      setTimeout(() => void link.destroy(), 50).unref();
      throw err;
    }
  }

  #start(data: Buffer, fds: number[], pid: number): Attachment {
    if (fds.length !== 1) {
      throw new PagerError(
        'no_fd',
        `the handoff must carry exactly one userfaultfd, it carried ${fds.length}`,
      );
    }
    const regions = parseHandoff(data, this.memorySize);
    const uffd = fds[0] as number;
    const tracker = this.#options.trackDirty ? DirtyTracker.open(pid, regions) : undefined;
    this.#tracker = tracker;
    if (tracker?.mode === 'sync') {
      this.#log.warn(
        { peerPid: pid },
        'async write-protect (WP_ASYNC + PAGEMAP_SCAN, Linux >= 6.7) is unavailable; tracking dirty pages with synchronous write-protect faults',
      );
    }
    const attachment = { pid, regions, tracking: tracker?.mode };
    this.#attachment = attachment;
    if (!this.#snapshot) {
      // Faults before serve() wait in the userfaultfd; a guest that is not running makes none.
      this.#parkedUffd = uffd;
      this.#link?.send('ok');
      this.#state = 'parked';
      this.#log.info({ peerPid: pid }, 'guest memory handed over; parked until a snapshot is named');
      return attachment;
    }
    this.#serveFaults(uffd, this.#snapshot, attachment);
    return attachment;
  }

  #serveFaults(uffd: number, snapshot: OpenedSnapshot, attachment: Attachment): void {
    const server = new FaultServer(
      {
        uffd,
        regions: attachment.regions.map((r) => ({ base: r.base, size: r.size, offset: r.offset })),
        table: snapshot.table.entries,
        fds: snapshot.fds,
        pagesPerFault: this.#options.pagesPerFault ?? 8,
        wp: this.#tracker?.mode ?? 'none',
        prefetch: toPlan(this.#options.prefetch),
        recordWorkingSet: this.#options.recordWorkingSet ?? false,
        exactFaults: this.#options.exactFaults ?? false,
        ...(this.#options.adoptMemoryFile && { present: presentRanges(this.#options.adoptMemoryFile) }),
      },
      (e) => this.#onEvent(e),
    );
    this.#server = server;
    server.start();
    closeSync(uffd); // the server holds its own duplicate
    if (this.#state !== 'parked') this.#link?.send('ok');
    this.#state = 'attached';
    this.#log.info(
      {
        peerPid: attachment.pid,
        regions: attachment.regions.map((r) => ({ offset: r.offset, size: r.size })),
        generation: snapshot.header.generation,
        tableEntries: snapshot.table.entries.length,
        tracking: this.#tracker?.mode ?? 'off',
      },
      'guest memory handed over; serving faults',
    );
  }

  #onEvent(e: FaultServerEvent): void {
    const err = describeServerEvent(e, this.#log);
    if (err) this.#options.onError?.(err);
  }

  #onDisconnected(): void {
    this.#resolveDisconnected();
    if (this.#state === 'parked') {
      this.#state = 'peer_gone';
      this.#log.info({ peerPid: this.#attachment?.pid }, 'the parked guest process went away');
    }
    if (this.#state === 'attached') {
      this.#state = 'peer_gone';
      this.#log.info({ peerPid: this.#attachment?.pid }, 'the guest process went away; fault loop stopped');
      void this.#server?.stop();
    }
  }

  #stopListening(): void {
    if (this.#listenFd !== undefined) {
      closeSync(this.#listenFd);
      this.#listenFd = undefined;
      rmSync(this.socketPath, { force: true });
    }
  }

  #requireServer(): FaultServer {
    if (!this.#server || this.#state !== 'attached') {
      throw new PagerError('not_attached', `the pager is ${this.#state}, not serving a guest`);
    }
    return this.#server;
  }

  /** The faulting process and its regions, once attached. */
  get attachment(): Attachment | undefined {
    return this.#attachment;
  }

  stats(): PagerStats {
    if (!this.#server)
      throw new PagerError('not_attached', `the pager is ${this.#state}, it has no stats yet`);
    return withPercentiles(this.#server.stats());
  }

  /**
   * Guest-RAM byte ranges [start, end) written since the previous call (or since the restore), merged
   * and sorted, including removed ranges; re-arms tracking. Exact only while the guest is paused.
   */
  takeDirtyRanges(): Array<[number, number]> {
    const server = this.#requireServer();
    if (!this.#tracker)
      throw new PagerError('dirty_tracking_off', 'the pager was started without trackDirty');
    return this.#tracker.take(server);
  }

  /** Alias of takeDirtyRanges(). */
  writtenSince(): Array<[number, number]> {
    return this.takeDirtyRanges();
  }

  /**
   * The pages the next restore should fetch first (needs recordWorkingSet): this run's prefetch order,
   * then the pages it faulted in, in first-touch order. Prefetched pages never fault, so recording faults
   * alone made a restore that started from a good recording leave an almost empty one, and resumes
   * alternated between ~5 and ~750 faults on the way to ready.
   */
  workingSet(): number[] {
    return mergeWorkingSets(this.#prefetchOrder, this.#requireServer().workingSet());
  }

  async saveWorkingSet(path: string): Promise<void> {
    await saveWorkingSet(path, this.workingSet());
  }

  /** Faults go back to installing a window of pages (after `exactFaults`). */
  endExactFaults(): void {
    this.#requireServer().endExactFaults();
  }

  /** Changes the idle-time prefetch policy. */
  prefetch(option: PrefetchOption): void {
    this.#requireServer().setPrefetch(toPlan(option));
    if (typeof option === 'object') this.#prefetchOrder = option.workingSet;
  }

  /** Resolves when every page is populated (prefetch must be fetching them, e.g. prefetch('all')). */
  async whenFullyPopulated(timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.#requireServer().stats();
      if (s.populatedPages >= s.totalPages) return;
      if (Date.now() > deadline) {
        throw new PagerError(
          'detach_failed',
          `${s.totalPages - s.populatedPages} pages still missing after ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Lets the guest go without killing it. With `complete` (default) every missing page is fetched
   * first, so the VM runs on without a pager; pass `complete: false` only when the VM is about to quit
   * (missing pages would otherwise read as the empty RAM file's zeros).
   */
  async detach(opts: { complete?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const server = this.#requireServer();
    const timeoutMs = opts.timeoutMs ?? 60000;
    if (opts.complete ?? true) {
      server.setPrefetch({ policy: 'all' });
      await this.whenFullyPopulated(timeoutMs);
    }
    const link = this.#link as ShimLink;
    link.send('detach');
    try {
      await link.waitForLine('detached', Math.min(timeoutMs, 10000));
    } catch (cause) {
      throw new PagerError('detach_failed', `the shim did not confirm the detach: ${String(cause)}`, {
        cause,
      });
    }
    this.#state = 'detached';
    await server.stop();
    await link.destroy();
    this.#log.info({ peerPid: this.#attachment?.pid, stats: server.stats() }, 'detached from the guest');
  }

  /**
   * Stops serving and releases everything. If still attached, the shim sees the connection end without
   * a detach and ends the VM (it could not run on without its pager).
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasAttached = this.#state === 'attached';
    this.#state = 'closed';
    if (this.#cancelFd !== undefined) eventfdSignal(this.#cancelFd);
    await this.attached.catch(() => {});
    await this.#link?.destroy();
    await this.#server?.stop();
    this.#tracker?.close();
    this.#snapshot?.close();
    if (this.#parkedUffd !== undefined) closeSync(this.#parkedUffd);
    this.#parkedUffd = undefined;
    this.#stopListening();
    if (this.#cancelFd !== undefined) {
      closeSync(this.#cancelFd);
      this.#cancelFd = undefined;
    }
    if (wasAttached) this.#log.info({ peerPid: this.#attachment?.pid }, 'pager closed while attached');
  }
}

function toPlan(option: PrefetchOption | undefined): PrefetchPlan {
  if (option === undefined || option === 'none') return { policy: 'none' };
  if (option === 'all') return { policy: 'all' };
  return { policy: 'order', offsets: option.workingSet, thenAll: option.thenAll ?? false };
}

/** The byte ranges a guest RAM file holds pages in: what the VM's pagers installed so far. */
function presentRanges(memoryFile: string): Array<[number, number]> {
  const fd = openSync(memoryFile, 'r');
  try {
    return seekDataRanges(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}
