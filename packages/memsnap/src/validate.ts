// The rules a header must follow before anyone serves memory from it. Every message names the file, the
// entry index and its offset, so a bad header found in the field can be located with `memsnap inspect`.
import { assertBuildId, ZERO_BUILD_ID } from './build-id.js';
import { fmtOffset, MemsnapError, type MemsnapErrorCode } from './errors.js';
import { HEADER_VERSION, type Header, type Mapping, MIN_BLOCK_SIZE } from './header.js';

export interface ValidateOptions {
  /** Named in error messages (the header's path). */
  file?: string;
}

export function isValidBlockSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= MIN_BLOCK_SIZE && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

export function assertBlockSize(n: number, file?: string): void {
  if (!isValidBlockSize(n)) {
    throw new MemsnapError(
      'bad_block_size',
      `${file ?? 'header'}: block size ${n} is not a power of two between ${MIN_BLOCK_SIZE} and 1 GiB`,
      file === undefined ? {} : { file },
    );
  }
}

/** Throws MemsnapError at the first rule `h` breaks. */
export function validateHeader(h: Header, opts: ValidateOptions = {}): void {
  const file = opts.file;
  const where = file ?? 'header';
  const at = file === undefined ? {} : { file };
  if (h.version !== HEADER_VERSION) {
    throw new MemsnapError(
      'unknown_version',
      `${where}: unknown header version ${h.version} (this reader knows ${HEADER_VERSION})`,
      at,
    );
  }
  assertBlockSize(h.blockSize, file);
  if (!Number.isSafeInteger(h.size) || h.size < 0 || h.size % h.blockSize !== 0) {
    throw new MemsnapError(
      'bad_size',
      `${where}: memory size ${h.size} is not a multiple of the block size ${h.blockSize}`,
      at,
    );
  }
  if (!Number.isSafeInteger(h.generation) || h.generation < 0) {
    throw new MemsnapError('bad_size', `${where}: generation ${h.generation} is not a whole number`, at);
  }
  assertBuildId(h.buildId, 'build id', file);
  assertBuildId(h.baseBuildId, 'base build id', file);
  if (h.buildId === ZERO_BUILD_ID) {
    throw new MemsnapError('bad_build_id', `${where}: the generation's own build id is all zero`, at);
  }
  validateMappings(h.mappings, h.blockSize, h.size, file);
}

/** The mapping rules alone: sorted, disjoint, gapless, covering [0, size), block-aligned. */
export function validateMappings(
  mappings: readonly Mapping[],
  blockSize: number,
  size: number,
  file?: string,
): void {
  const where = file ?? 'header';
  const fail = (i: number, code: MemsnapErrorCode, what: string): never => {
    const m = mappings[i] as Mapping;
    throw new MemsnapError(code, `${where}: mapping ${i} at offset ${fmtOffset(m.offset)}: ${what}`, {
      ...(file === undefined ? {} : { file }),
      entry: i,
      offset: m.offset,
    });
  };
  // Pass 1, entry by entry: fields, alignment, order. Order is checked over the whole list before
  // gaps and overlaps, so a shuffled header is reported as unsorted rather than as its first gap.
  // (Hot for big headers: messages are only built on failure, and each build id is checked once.)
  const checkedIds = new Set<string>();
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i] as Mapping;
    for (const key of ['offset', 'length', 'storageOffset'] as const) {
      if (!Number.isSafeInteger(m[key]) || m[key] < 0)
        fail(i, 'number_too_large', `${key} ${m[key]} is not exact`);
    }
    if (!checkedIds.has(m.buildId)) {
      assertBuildId(m.buildId, `mapping ${i} at offset ${fmtOffset(m.offset)}: build id`, file);
      checkedIds.add(m.buildId);
    }
    if (m.offset % blockSize !== 0) fail(i, 'unaligned_mapping', `offset is not a multiple of ${blockSize}`);
    if (m.length % blockSize !== 0) {
      fail(i, 'unaligned_mapping', `length ${m.length} is not a multiple of ${blockSize}`);
    }
    if (m.storageOffset % blockSize !== 0) {
      fail(i, 'unaligned_mapping', `storage offset ${m.storageOffset} is not a multiple of ${blockSize}`);
    }
    if (m.length === 0) fail(i, 'empty_mapping', 'length is 0');
    const prev = mappings[i - 1];
    if (prev && m.offset < prev.offset) {
      fail(i, 'unsorted_mappings', `comes before mapping ${i - 1} at offset ${fmtOffset(prev.offset)}`);
    }
  }
  // Pass 2: the sorted entries tile [0, size).
  let expect = 0;
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i] as Mapping;
    if (m.offset < expect) {
      fail(i, 'overlapping_mappings', `overlaps mapping ${i - 1}, which ends at ${fmtOffset(expect)}`);
    }
    if (m.offset > expect) {
      fail(i, 'mapping_gap', `leaves [${fmtOffset(expect)}, ${fmtOffset(m.offset)}) unmapped`);
    }
    expect = m.offset + m.length;
    if (expect > size) fail(i, 'bad_coverage', `ends at ${fmtOffset(expect)}, past the memory size ${size}`);
  }
  if (expect !== size) {
    const last = mappings.length - 1;
    throw new MemsnapError(
      'bad_coverage',
      `${where}: the mappings cover [0, ${fmtOffset(expect)}) but the memory size is ${fmtOffset(size)}` +
        (last >= 0 ? ` (last is mapping ${last})` : ' (no mappings)'),
      { ...(file === undefined ? {} : { file }), entry: Math.max(last, 0), offset: expect },
    );
  }
}
