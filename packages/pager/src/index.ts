export { type BlockTable, buildBlockTable, type HeaderLike, ZERO_BUILD_ID } from './block-table.js';
export type { TrackingMode } from './dirty-tracker.js';
export { PagerError, type PagerErrorCode } from './errors.js';
export { type GuestRegionMapping, PAGE_SIZE, parseHandoff } from './handoff-message.js';
export { type Attachment, Pager, type PagerOptions, type PrefetchOption } from './pager.js';
export { mergeRanges } from './ranges.js';
export type { ServedHeader, SnapshotSource } from './snapshot-source.js';
export type { PagerStats } from './stats.js';
export { decodeWorkingSet, encodeWorkingSet, loadWorkingSet, saveWorkingSet } from './working-set.js';
