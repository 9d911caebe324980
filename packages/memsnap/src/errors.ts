/** memsnap's one error type: `code` is stable and meant for programs, the message for people. */
export type MemsnapErrorCode =
  /** The header file is shorter than its metadata, or its entries are not whole 40-byte records. */
  | 'truncated_header'
  /** A header version this code does not know (it reads and writes version 3). */
  | 'unknown_version'
  /** Block size not a power of two >= 4096. */
  | 'bad_block_size'
  /** Memory size not a multiple of the block size, or not a safe integer. */
  | 'bad_size'
  /** A u64 field beyond what a JavaScript number holds exactly (2^53 - 1). */
  | 'number_too_large'
  /** A build id that is not a canonical lowercase UUID, or a generation whose own id is all zero. */
  | 'bad_build_id'
  | 'unsorted_mappings'
  | 'overlapping_mappings'
  | 'mapping_gap'
  /** The mappings end short of, or run past, the memory size. */
  | 'bad_coverage'
  /** A mapping offset, length or storage offset that is not a multiple of the block size. */
  | 'unaligned_mapping'
  | 'empty_mapping'
  /** A data file a mapping references does not exist. */
  | 'missing_data_file'
  /** A data file is shorter than the blocks a mapping reads from it. */
  | 'short_data_file'
  /** The directory has no memfile.header (for operations that need a parent). */
  | 'no_header'
  /** A byte range outside the memory, or dirty ranges that are not [start, end) pairs. */
  | 'bad_range'
  /** The memory source's size differs from the header's. */
  | 'size_mismatch'
  /** The requested build id already names a generation this header uses. */
  | 'build_id_in_use'
  /** The snapshot directory does not exist or is not a directory. */
  | 'not_a_directory'
  /** A clone target already holds a snapshot. */
  | 'already_exists';

export interface MemsnapErrorDetails {
  /** The file the problem is in (header or data file), when there is one. */
  file?: string;
  /** Index of the offending mapping entry. */
  entry?: number;
  /** The offending byte offset (guest memory offset, or byte offset in the file for truncation). */
  offset?: number;
  cause?: unknown;
}

export class MemsnapError extends Error {
  readonly file: string | undefined;
  readonly entry: number | undefined;
  readonly offset: number | undefined;

  constructor(
    readonly code: MemsnapErrorCode,
    message: string,
    details: MemsnapErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MemsnapError';
    this.file = details.file;
    this.entry = details.entry;
    this.offset = details.offset;
  }
}

/** `12288 (0x3000)`: offsets read best in hex next to block sizes, and in decimal next to lengths. */
export function fmtOffset(n: number): string {
  return `${n} (0x${n.toString(16)})`;
}
