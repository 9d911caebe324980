// Byte ranges [start, end) as dirty-page trackers report them: possibly unsorted, overlapping or not
// block-aligned. Writers need them sorted, disjoint and widened to whole blocks.
import { fmtOffset, MemsnapError } from './errors.js';

export type ByteRange = readonly [start: number, end: number];

/**
 * Widens every range to whole blocks, sorts and joins touching ones. Empty ranges vanish. Throws bad_range
 * for ranges outside [0, limit) or that are not [start <= end] integer pairs.
 */
export function toBlockRanges(
  ranges: Iterable<ByteRange>,
  blockSize: number,
  limit = Number.MAX_SAFE_INTEGER,
): Array<[number, number]> {
  const widened: Array<[number, number]> = [];
  let i = 0;
  for (const r of ranges) {
    const [start, end] = r;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > limit
    ) {
      throw new MemsnapError(
        'bad_range',
        `range ${i} [${start}, ${end}) is not within [0, ${fmtOffset(limit)})`,
        Number.isSafeInteger(start) ? { entry: i, offset: start } : { entry: i },
      );
    }
    i++;
    if (start === end) continue;
    widened.push([start - (start % blockSize), Math.ceil(end / blockSize) * blockSize]);
  }
  widened.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of widened) {
    const last = out.at(-1);
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}
