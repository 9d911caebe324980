// The snapshot header (e2b v3 / wrenn layout). All numbers are byte units; JavaScript numbers hold them
// exactly up to 2^53 - 1 (8 PiB), far beyond any guest, and the codec refuses anything larger.

/** The only version this code reads and writes. Extensions (checksums, counts) need a new number. */
export const HEADER_VERSION = 3;
/** {version, blockSize, size, generation} u64 + buildId, baseBuildId [16]. */
export const METADATA_SIZE = 64;
/** {offset, length} u64 + buildId [16] + storageOffset u64. */
export const ENTRY_SIZE = 40;
export const MIN_BLOCK_SIZE = 4096;
export const DEFAULT_BLOCK_SIZE = 4096;
/** DESIGN.md: at this many generations the caller should MergeDiffs. memsnap itself never forces it. */
export const GENERATION_CAP = 10;

/** Guest bytes [offset, offset + length) live in memfile.<buildId> at storageOffset (or are zero). */
export interface Mapping {
  offset: number;
  length: number;
  buildId: string;
  storageOffset: number;
}

export interface Header {
  version: number;
  blockSize: number;
  /** Guest memory size; the mappings cover [0, size) exactly. */
  size: number;
  /** 0 for a base (or a merge), parent + 1 for a diff. */
  generation: number;
  /** This generation's id; its blocks are in memfile.<buildId>. */
  buildId: string;
  /** The generation-0 build this chain started from (equal to buildId for a base). */
  baseBuildId: string;
  mappings: Mapping[];
}
