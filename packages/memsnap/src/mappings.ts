// The mapping algebra every write is made of: a new generation's entries (createMapping), a diff laid over
// its parent (mergeMappings) and joining neighbours so headers stay small (normalizeMappings).
import { assertBuildId, ZERO_BUILD_ID } from './build-id.js';
import { fmtOffset, MemsnapError } from './errors.js';
import type { Mapping } from './header.js';
import { type ByteRange, toBlockRanges } from './ranges.js';
import { assertBlockSize } from './validate.js';

/**
 * Entries for the blocks of one new generation, packed in address order: storage offsets run 0, 1, 2...
 * blocks. `dirty` is block indices or byte ranges (widened to blocks); either may be unsorted. For
 * ZERO_BUILD_ID the storage offsets are 0 (zero fill has no storage).
 */
export function createMapping(
  dirty: readonly number[] | readonly ByteRange[],
  blockSize: number,
  buildId: string,
): Mapping[] {
  assertBlockSize(blockSize);
  assertBuildId(buildId, 'build id');
  const ranges = toBlockRanges(
    (dirty as ReadonlyArray<number | ByteRange>).map((d): ByteRange => {
      if (typeof d !== 'number') return d;
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new MemsnapError('bad_range', `block index ${d} is not a whole non-negative number`);
      }
      return [d * blockSize, (d + 1) * blockSize];
    }),
    blockSize,
  );
  const zero = buildId === ZERO_BUILD_ID;
  const out: Mapping[] = [];
  let storage = 0;
  for (const [start, end] of ranges) {
    out.push({ offset: start, length: end - start, buildId, storageOffset: zero ? 0 : storage });
    if (!zero) storage += end - start;
  }
  return out;
}

function end(m: Mapping): number {
  return m.offset + m.length;
}

/** The part [from, to) of `m`, its storage offset shifted along (zero fill keeps 0). */
export function sliceMapping(m: Mapping, from: number, to: number): Mapping {
  const zero = m.buildId === ZERO_BUILD_ID;
  return {
    offset: from,
    length: to - from,
    buildId: m.buildId,
    storageOffset: zero ? 0 : m.storageOffset + (from - m.offset),
  };
}

function assertSortedDisjoint(list: readonly Mapping[], name: string): void {
  for (let i = 1; i < list.length; i++) {
    const prev = list[i - 1] as Mapping;
    const m = list[i] as Mapping;
    if (m.offset < end(prev)) {
      const code = m.offset < prev.offset ? 'unsorted_mappings' : 'overlapping_mappings';
      throw new MemsnapError(
        code,
        `${name}: mapping ${i} at offset ${fmtOffset(m.offset)} is ${code === 'unsorted_mappings' ? 'before' : 'inside'} mapping ${i - 1} [${fmtOffset(prev.offset)}, ${fmtOffset(end(prev))})`,
        { entry: i, offset: m.offset },
      );
    }
  }
}

/**
 * `diff` laid over `base`: wherever the diff has an entry it wins; base entries it cuts are split, the
 * pieces keeping their bytes (storage offsets shifted by the cut). Both lists must be sorted and disjoint;
 * either may have gaps (the result then has the union's gaps). O(n + m). Not normalized.
 */
export function mergeMappings(base: readonly Mapping[], diff: readonly Mapping[]): Mapping[] {
  assertSortedDisjoint(base, 'base');
  assertSortedDisjoint(diff, 'diff');
  // 1. The base minus the diff's ranges.
  const pieces: Mapping[] = [];
  let first = 0; // diff entries before `first` end before the current base entry starts
  for (const b of base) {
    let pos = b.offset;
    const stop = end(b);
    while (first < diff.length && end(diff[first] as Mapping) <= pos) first++;
    for (let k = first; pos < stop; k++) {
      const d = diff[k];
      if (!d || d.offset >= stop) {
        pieces.push(sliceMapping(b, pos, stop));
        break;
      }
      if (d.offset > pos) pieces.push(sliceMapping(b, pos, d.offset));
      pos = Math.max(pos, end(d));
    }
  }
  // 2. Those pieces and the diff, both sorted and disjoint from each other, merged by offset.
  const out: Mapping[] = [];
  let i = 0;
  let j = 0;
  while (i < pieces.length || j < diff.length) {
    const p = pieces[i];
    const d = diff[j];
    if (d && (!p || d.offset < p.offset)) {
      out.push({ ...d });
      j++;
    } else if (p) {
      out.push(p);
      i++;
    }
  }
  return out;
}

/**
 * Joins neighbours that continue each other: same build id and contiguous storage, or both zero fill.
 * Drops empty entries. Input sorted and disjoint; output is a new array of new objects.
 */
export function normalizeMappings(mappings: readonly Mapping[]): Mapping[] {
  const out: Mapping[] = [];
  for (const m of mappings) {
    if (m.length === 0) continue;
    const zero = m.buildId === ZERO_BUILD_ID;
    const last = out.at(-1);
    if (
      last &&
      end(last) === m.offset &&
      last.buildId === m.buildId &&
      (zero || last.storageOffset + last.length === m.storageOffset)
    ) {
      last.length += m.length;
    } else {
      out.push({
        offset: m.offset,
        length: m.length,
        buildId: m.buildId,
        storageOffset: zero ? 0 : m.storageOffset,
      });
    }
  }
  return out;
}
