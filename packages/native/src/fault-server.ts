// Typed view of the native fault server: one C++ thread per guest that answers userfaultfd page
// faults from a block table (see csrc/fault-server.cc). The thread never touches JS; events arrive
// here through a thread-safe function, stats are read on demand.
import { binding, type FaultServerStats, type RawFaultServer } from './binding.js';

/** One row of the block table: guest bytes [offset, offset + length) come from `file` at `storage`. */
export interface BlockTableEntry {
  offset: number;
  length: number;
  /** Index into `fds`, or -1 for zero fill. */
  file: number;
  storage: number;
}

export interface ServedRegion {
  /** Host virtual address of the region in the faulting process. */
  base: number;
  size: number;
  /** Guest-RAM (file) offset that `base` maps. */
  offset: number;
}

export type WpMode = 'none' | 'async' | 'sync';

export type PrefetchPlan =
  | { policy: 'none' }
  | { policy: 'all' }
  /** Guest offsets in the order to fetch them, then optionally everything else. */
  | { policy: 'order'; offsets: readonly number[]; thenAll?: boolean };

export interface FaultServerOptions {
  uffd: number;
  regions: readonly ServedRegion[];
  /** Sorted, contiguous from 0, covering every region. */
  table: readonly BlockTableEntry[];
  /** Data files the table's `file` indices refer to (duplicated by the server). */
  fds: readonly number[];
  pageSize?: number;
  /** Pages installed per fault (an aligned window clamped to the region), 1..512. */
  pagesPerFault?: number;
  /** Pages per idle prefetch step, 1..4096. */
  prefetchChunkPages?: number;
  /** async: install pages write-protected for WP_ASYNC + PAGEMAP_SCAN; sync: also serve WP faults. */
  wp?: WpMode;
  /** 'order': exactly the listed pages; consecutive ones go in one copy. */
  prefetch?: PrefetchPlan;
  recordWorkingSet?: boolean;
  /** Faults install only their own page until endExactFaults(), whatever pagesPerFault says. */
  exactFaults?: boolean;
  /**
   * Guest byte ranges [start, end) an earlier server of the same VM already installed (adoption after an
   * agent restart): served as present, and reported written by the next takeDirty.
   */
  present?: ReadonlyArray<readonly [number, number]>;
  /**
   * After an event, keep reading the userfaultfd this many µs before sleeping in poll (default 50; 0
   * never spins). Saves a wake-up per fault while faults stream in, costs CPU only right after one.
   */
  spinUs?: number;
}

export type FaultServerEvent =
  | { type: 'storage-error'; code: string; message: string; guestOffset: number; attempts: number }
  | { type: 'storage-recovered'; guestOffset: number; attempts: number }
  | { type: 'prefetch-done'; message: string }
  | { type: 'remove' | 'unmap'; guestOffset: number; start: number; end: number }
  | { type: 'remap'; start: number; end: number; to: number }
  | { type: 'fork' | 'stray-fault' | 'uffd-error' | 'gone'; code?: string; message?: string };

export class FaultServer {
  readonly #raw: RawFaultServer;
  #stopped: Promise<void> | undefined;

  constructor(options: FaultServerOptions, onEvent: (event: FaultServerEvent) => void) {
    const table = new Float64Array(options.table.length * 4);
    for (const [i, e] of options.table.entries()) table.set([e.offset, e.length, e.file, e.storage], i * 4);
    const prefetch = options.prefetch ?? { policy: 'none' };
    this.#raw = new binding.FaultServer(
      {
        uffd: options.uffd,
        regions: options.regions.map((r) => ({ base: r.base, size: r.size, offset: r.offset })),
        table,
        fds: [...options.fds],
        pageSize: options.pageSize ?? 4096,
        pagesPerFault: options.pagesPerFault ?? 1,
        prefetchChunkPages: options.prefetchChunkPages ?? 64,
        wp: options.wp ?? 'none',
        prefetch: prefetch.policy,
        order: prefetch.policy === 'order' ? Float64Array.from(prefetch.offsets) : undefined,
        thenAll: prefetch.policy === 'order' ? (prefetch.thenAll ?? false) : false,
        recordWorkingSet: options.recordWorkingSet ?? false,
        exactFaults: options.exactFaults ?? false,
        spinUs: options.spinUs ?? 50,
        present: options.present ? Float64Array.from(options.present.flat()) : undefined,
      },
      (e) => onEvent(e as unknown as FaultServerEvent),
    );
  }

  start(): void {
    this.#raw.start();
  }

  /** Stops and joins the thread (on a worker thread); idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#raw.stop();
    return this.#stopped;
  }

  stats(): FaultServerStats {
    return this.#raw.stats();
  }

  /**
   * Guest byte ranges [start, end) written or removed since the previous call, re-arming tracking.
   * 'async': pass the faulting process's /proc/<pid>/pagemap fd; PAGEMAP_SCAN (WP_MATCHING) finds the
   * written pages among those installed. 'sync': the pages whose write-protect faults were served.
   * Removed pages count in every mode.
   */
  takeDirty(pagemapFd = -1): Array<[number, number]> {
    const flat = this.#raw.takeDirty(pagemapFd);
    const out: Array<[number, number]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as number, flat[i + 1] as number]);
    return out;
  }

  /** Guest offsets of the pages faults installed, in first-touch order (when recordWorkingSet was set). */
  workingSet(): number[] {
    return Array.from(this.#raw.workingSet());
  }

  endExactFaults(): void {
    this.#raw.endExactFaults();
  }

  setPrefetch(plan: PrefetchPlan): void {
    if (plan.policy === 'order')
      this.#raw.setPrefetch('order', Float64Array.from(plan.offsets), plan.thenAll ?? false);
    else this.#raw.setPrefetch(plan.policy);
  }
}
