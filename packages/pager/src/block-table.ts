// Resolves a memsnap header into the flat table the native fault loop binary-searches:
// (guest offset, length, data file | zero, storage offset), sorted, contiguous, covering [0, size).
import type { BlockTableEntry } from '@amber/native';
import { PagerError } from './errors.js';

export const ZERO_BUILD_ID = '00000000-0000-0000-0000-000000000000';

/** The part of memsnap's Header the pager reads. */
export interface HeaderLike {
  size: number;
  mappings: ReadonlyArray<{ offset: number; length: number; buildId: string; storageOffset: number }>;
}

export interface BlockTable {
  entries: BlockTableEntry[];
  /** Build ids whose data files the entries' `file` indices refer to, in index order. */
  buildIds: string[];
}

/**
 * Builds the table, merging neighbours that continue each other in the same file (or are both zero),
 * which keeps a freshly merged snapshot's table to a handful of rows.
 */
export function buildBlockTable(header: HeaderLike): BlockTable {
  const buildIds: string[] = [];
  const index = new Map<string, number>();
  const entries: BlockTableEntry[] = [];
  let expect = 0;
  for (const m of header.mappings) {
    if (m.offset !== expect || m.length <= 0) {
      throw new PagerError(
        'bad_header',
        `header mappings must be sorted and contiguous: expected offset ${expect}, found ${m.offset} (length ${m.length})`,
      );
    }
    expect = m.offset + m.length;
    let file = -1;
    if (m.buildId.toLowerCase() !== ZERO_BUILD_ID) {
      const id = m.buildId.toLowerCase();
      file = index.get(id) ?? -1;
      if (file < 0) {
        file = buildIds.length;
        buildIds.push(id);
        index.set(id, file);
      }
    }
    const prev = entries.at(-1);
    if (prev && prev.file === file && (file < 0 || prev.storage + prev.length === m.storageOffset)) {
      prev.length += m.length;
    } else {
      entries.push({ offset: m.offset, length: m.length, file, storage: file < 0 ? 0 : m.storageOffset });
    }
  }
  if (expect !== header.size) {
    throw new PagerError(
      'bad_header',
      `header mappings cover ${expect} bytes but the memory size is ${header.size}`,
    );
  }
  return { entries, buildIds };
}
