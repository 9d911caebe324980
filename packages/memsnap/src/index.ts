export { assertBuildId, isCanonicalBuildId, newBuildId, ZERO_BUILD_ID } from './build-id.js';
export { cloneSnapshotDir } from './clone.js';
export { TEMP_PREFIX } from './durable-fs.js';
export { MemsnapError, type MemsnapErrorCode, type MemsnapErrorDetails } from './errors.js';
export {
  DEFAULT_BLOCK_SIZE,
  ENTRY_SIZE,
  GENERATION_CAP,
  HEADER_VERSION,
  type Header,
  type Mapping,
  METADATA_SIZE,
  MIN_BLOCK_SIZE,
} from './header.js';
export { type ParseOptions, parseHeader, serializeHeader } from './header-codec.js';
export { DATA_PREFIX, dataFileName, HEADER_FILE } from './layout.js';
export { HeaderIndex, type Location, lookup } from './lookup.js';
export { createMapping, mergeMappings, normalizeMappings } from './mappings.js';
export {
  bufferMemorySource,
  type FileMemorySource,
  type MemorySource,
  openFileMemorySource,
} from './memory-source.js';
export { type CopyRun, type MergePlan, planMerge } from './merge-plan.js';
export { type ByteRange, toBlockRanges } from './ranges.js';
export { SnapshotDir, type WriteBaseOptions, type WriteOptions } from './snapshot-dir.js';
export { isValidBlockSize, type ValidateOptions, validateHeader, validateMappings } from './validate.js';
export type { VerifiedFile, VerifyReport } from './verify.js';
