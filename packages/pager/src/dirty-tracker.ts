// Which guest pages were written since the last ask. With WP_ASYNC (Linux >= 6.7) pages are installed
// write-protected, the kernel un-protects on first write without a fault, and PAGEMAP_SCAN with
// WP_MATCHING lists the written ones and re-protects them in one walk; the fault server runs the scan
// so it can drop pages it never installed (the kernel reports PTE-less pages as written) and add the
// removed ones (no PTE for the scan to see). The synchronous fallback needs no scan.
import { closeSync, openSync } from 'node:fs';
import { type FaultServer, PageCategory, pagemapScan } from '@amber/native';
import { PagerError } from './errors.js';
import type { GuestRegionMapping } from './handoff-message.js';
import { mergeRanges } from './ranges.js';

export type TrackingMode = 'async' | 'sync';

export class DirtyTracker {
  readonly mode: TrackingMode;
  readonly #pagemapFd: number | undefined;

  private constructor(mode: TrackingMode, pagemapFd: number | undefined) {
    this.mode = mode;
    this.#pagemapFd = pagemapFd;
  }

  /**
   * Opens /proc/<pid>/pagemap and asks the kernel whether the regions are under async write-protect
   * (PAGE_IS_WPALLOWED). If not (older kernel, or the shim was told not to ask) the synchronous
   * fallback is used.
   */
  static open(pid: number, regions: readonly GuestRegionMapping[]): DirtyTracker {
    let fd: number | undefined;
    try {
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
      const allowed = regions.every(
        (r) =>
          pagemapScan(fd as number, r.base, r.base + r.size, {
            categoryAnyofMask: PageCategory.WPALLOWED,
            returnMask: PageCategory.WPALLOWED,
            maxPages: 1,
          }).length > 0,
      );
      if (allowed) return new DirtyTracker('async', fd);
    } catch {
      // ENOTTY (no PAGEMAP_SCAN) or no such process: fall through to the fallback.
    }
    if (fd !== undefined) closeSync(fd);
    return new DirtyTracker('sync', undefined);
  }

  /** Guest byte ranges written (or removed) since the last call; re-arms tracking. */
  take(server: FaultServer): Array<[number, number]> {
    try {
      return mergeRanges(server.takeDirty(this.#pagemapFd ?? -1));
    } catch (cause) {
      throw new PagerError('scan_failed', `collecting dirty pages failed: ${String(cause)}`, { cause });
    }
  }

  close(): void {
    if (this.#pagemapFd !== undefined) closeSync(this.#pagemapFd);
  }
}
