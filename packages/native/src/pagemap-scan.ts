// PAGEMAP_SCAN (Linux >= 6.7) on /proc/<pid>/pagemap.
import { binding } from './binding.js';

/** PAGE_IS_* categories. */
export const PageCategory = {
  WPALLOWED: 1 << 0,
  WRITTEN: 1 << 1,
  FILE: 1 << 2,
  PRESENT: 1 << 3,
  SWAPPED: 1 << 4,
  PFNZERO: 1 << 5,
  HUGE: 1 << 6,
  SOFT_DIRTY: 1 << 7,
} as const;

/** PM_SCAN_* flags. */
export const PmScanFlag = {
  /** Write-protect the matching pages during the walk (re-arms WP_ASYNC tracking). */
  WP_MATCHING: 1 << 0,
  /** Fail with EPERM unless every range is registered with async write-protect. */
  CHECK_WPASYNC: 1 << 1,
} as const;

export interface PageRegion {
  start: number;
  end: number;
  categories: number;
}

export interface PagemapScanOptions {
  flags?: number;
  categoryInverted?: number;
  categoryMask?: number;
  categoryAnyofMask?: number;
  returnMask?: number;
  /** Stop after this many pages (0 = no limit). */
  maxPages?: number;
}

/**
 * Scans [start, end) of the process whose pagemap `fd` is open, repeating the ioctl until the walk
 * reaches `end`. Adjacent regions with equal categories are merged.
 */
export function pagemapScan(
  fd: number,
  start: number,
  end: number,
  opts: PagemapScanOptions = {},
): PageRegion[] {
  const flat = binding.pagemapScan(fd, start, end, opts);
  const out: PageRegion[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    out.push({ start: flat[i] as number, end: flat[i + 1] as number, categories: flat[i + 2] as number });
  }
  return out;
}

/** The pages written since the last call (or since they were installed write-protected), re-protected. */
export function scanWrittenAndProtect(fd: number, start: number, end: number): PageRegion[] {
  return pagemapScan(fd, start, end, {
    flags: PmScanFlag.WP_MATCHING | PmScanFlag.CHECK_WPASYNC,
    categoryMask: PageCategory.WRITTEN,
    returnMask: PageCategory.WRITTEN,
  });
}
