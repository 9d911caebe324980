// MergeDiffs as data: which byte runs of which generation files go where in the one new file, and the
// header that describes the result. Kept pure so the mapping algebra can be checked in memory against a
// model thousands of times; SnapshotDir.merge only executes the copies.
import { ZERO_BUILD_ID } from './build-id.js';
import type { Mapping } from './header.js';
import { normalizeMappings } from './mappings.js';

export interface CopyRun {
  buildId: string;
  /** Offset in memfile.<buildId>. */
  from: number;
  /** Offset in the new file. */
  to: number;
  length: number;
}

export interface MergePlan {
  /** Normalized; every data entry names the new build id. */
  mappings: Mapping[];
  /** In output order; neighbours that continue each other in both files are one run (fewer syscalls). */
  copies: CopyRun[];
  /** Size of the new data file. */
  bytes: number;
}

/** Resolves every block into one file packed in address order; zero fill stays zero fill. */
export function planMerge(mappings: readonly Mapping[], buildId: string): MergePlan {
  const out: Mapping[] = [];
  const copies: CopyRun[] = [];
  let to = 0;
  for (const m of normalizeMappings(mappings)) {
    if (m.buildId === ZERO_BUILD_ID) {
      out.push({ ...m });
      continue;
    }
    out.push({ offset: m.offset, length: m.length, buildId, storageOffset: to });
    // Zero entries between two data entries occupy no output, so a base file's blocks on either side of
    // a zero run are usually one copy.
    const last = copies.at(-1);
    if (last && last.buildId === m.buildId && last.from + last.length === m.storageOffset) {
      last.length += m.length;
    } else {
      copies.push({ buildId: m.buildId, from: m.storageOffset, to, length: m.length });
    }
    to += m.length;
  }
  return { mappings: normalizeMappings(out), copies, bytes: to };
}
