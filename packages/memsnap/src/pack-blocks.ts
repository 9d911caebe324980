// Writes one generation's data file: the non-zero blocks of the given ranges, packed in address order.
// Blocks that read as all zero become zero-fill entries instead, which is what makes a page the guest
// zeroed read as zero afterwards (it is dirty, so it must not fall through to the parent's bytes).
import { ZERO_BUILD_ID } from './build-id.js';
import { PendingFile } from './durable-fs.js';
import type { Mapping } from './header.js';
import { type MemorySource, readFull } from './memory-source.js';

/** Read granularity: big enough to amortize syscalls, small enough to stay out of the way of the heap. */
const CHUNK = 4 << 20;
const ZEROS = Buffer.alloc(64 << 10);

export function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let p = start; p < end; p += ZEROS.length) {
    const n = Math.min(ZEROS.length, end - p);
    if (buf.compare(ZEROS, 0, n, p, p + n) !== 0) return false;
  }
  return true;
}

/** Appends mappings in address order, joining each to the previous one when it continues it. */
export class MappingBuilder {
  readonly mappings: Mapping[] = [];

  push(offset: number, length: number, buildId: string, storageOffset: number): void {
    const zero = buildId === ZERO_BUILD_ID;
    const last = this.mappings.at(-1);
    if (
      last &&
      last.offset + last.length === offset &&
      last.buildId === buildId &&
      (zero || last.storageOffset + last.length === storageOffset)
    ) {
      last.length += length;
    } else {
      this.mappings.push({ offset, length, buildId, storageOffset: zero ? 0 : storageOffset });
    }
  }
}

export interface PackedGeneration {
  file: PendingFile;
  /** Entries for the scanned ranges only (data and zero), in address order, joined. */
  builder: MappingBuilder;
  bytes: number;
}

/**
 * Scans `ranges` (sorted, disjoint, block-aligned) of `source` into a pending memfile.<buildId> in `dir`.
 * The caller commits or aborts the returned file.
 */
export async function packBlocks(
  dir: string,
  buildId: string,
  source: MemorySource,
  ranges: ReadonlyArray<readonly [number, number]>,
  blockSize: number,
): Promise<PackedGeneration> {
  const builder = new MappingBuilder();
  const file = await PendingFile.create(dir, `memfile.${buildId}`);
  try {
    const chunkSize = Math.max(blockSize, CHUNK - (CHUNK % blockSize));
    const inBuf = Buffer.allocUnsafe(chunkSize);
    const outBuf = Buffer.allocUnsafe(chunkSize);
    let outFill = 0;
    let written = 0; // bytes of the data file already written
    for (const [start, end] of ranges) {
      for (let pos = start; pos < end; pos += chunkSize) {
        const n = Math.min(chunkSize, end - pos);
        const chunk = inBuf.subarray(0, n);
        await readFull(source, chunk, pos);
        for (let b = 0; b < n; b += blockSize) {
          if (isZero(chunk, b, b + blockSize)) {
            builder.push(pos + b, blockSize, ZERO_BUILD_ID, 0);
            continue;
          }
          if (outFill === outBuf.length) {
            await file.write(outBuf, outFill, written);
            written += outFill;
            outFill = 0;
          }
          builder.push(pos + b, blockSize, buildId, written + outFill);
          chunk.copy(outBuf, outFill, b, b + blockSize);
          outFill += blockSize;
        }
      }
    }
    if (outFill > 0) await file.write(outBuf, outFill, written);
    return { file, builder, bytes: written + outFill };
  } catch (err) {
    await file.abort();
    throw err;
  }
}
