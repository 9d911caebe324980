// Guest offset -> where its bytes are, by binary search over the sorted mappings: O(log n) per lookup.
// HeaderIndex keeps the offsets in a typed array so repeated lookups (reads, the pager's table, benches)
// touch one compact array instead of n objects.
import { ZERO_BUILD_ID } from './build-id.js';
import { fmtOffset, MemsnapError } from './errors.js';
import type { Header, Mapping } from './header.js';

export interface Location {
  /** ZERO_BUILD_ID for zero fill. */
  buildId: string;
  /** Byte offset in memfile.<buildId> holding the requested guest offset (0 for zero fill). */
  storageOffset: number;
  /** Bytes from the requested offset to the end of its mapping: how far one read may go. */
  runLength: number;
  /** Index of the mapping in the header. */
  index: number;
}

type HeaderLike = Pick<Header, 'size' | 'mappings'>;

export class HeaderIndex {
  readonly size: number;
  readonly mappings: readonly Mapping[];
  readonly #starts: Float64Array;

  constructor(header: HeaderLike) {
    this.size = header.size;
    this.mappings = header.mappings;
    this.#starts = new Float64Array(header.mappings.length);
    for (let i = 0; i < header.mappings.length; i++) {
      this.#starts[i] = (header.mappings[i] as Mapping).offset;
    }
  }

  /** Index of the mapping containing `offset` (the last one starting at or before it). */
  indexOf(offset: number): number {
    checkOffset(this.size, offset);
    // Branch-free halving (the select compiles to a conditional move): random lookups would otherwise
    // pay a mispredicted branch at every step.
    const starts = this.#starts;
    let base = 0;
    let n = starts.length;
    while (n > 1) {
      const half = n >>> 1;
      base = (starts[base + half] as number) <= offset ? base + half : base;
      n -= half;
    }
    return base;
  }

  lookup(offset: number): Location {
    const index = this.indexOf(offset);
    return locate(this.mappings[index] as Mapping, index, offset);
  }
}

function checkOffset(size: number, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) {
    throw new MemsnapError('bad_range', `offset ${offset} is outside the memory [0, ${fmtOffset(size)})`, {
      ...(Number.isSafeInteger(offset) ? { offset } : {}),
    });
  }
}

function locate(m: Mapping, index: number, offset: number): Location {
  const zero = m.buildId === ZERO_BUILD_ID;
  return {
    buildId: m.buildId,
    storageOffset: zero ? 0 : m.storageOffset + (offset - m.offset),
    runLength: m.offset + m.length - offset,
    index,
  };
}

/** Where guest `offset` lives. Takes a header (binary search on its mappings) or a prepared HeaderIndex. */
export function lookup(from: HeaderLike | HeaderIndex, offset: number): Location {
  if (from instanceof HeaderIndex) return from.lookup(offset);
  checkOffset(from.size, offset);
  const ms = from.mappings;
  let lo = 0;
  let hi = ms.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((ms[mid] as Mapping).offset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return locate(ms[lo] as Mapping, lo, offset);
}
