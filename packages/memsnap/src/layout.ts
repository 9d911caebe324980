// Names inside a snapshot directory. memsnap owns only `memfile.*` and its own temp files; everything
// else there (device state, disk layers, sandbox metadata) belongs to other code and is never touched.
import { join } from 'node:path';
import { ZERO_BUILD_ID } from './build-id.js';
import type { Header } from './header.js';

export const HEADER_FILE = 'memfile.header';
export const DATA_PREFIX = 'memfile.';

export function dataFileName(buildId: string): string {
  return `${DATA_PREFIX}${buildId}`;
}

export function dataFilePath(dir: string, buildId: string): string {
  return join(dir, dataFileName(buildId));
}

/**
 * Build ids whose data files the header needs: every non-zero mapping's, plus the generation's own (its
 * file exists even when it holds no blocks, so callers can stat it; keeping it costs nothing).
 */
export function referencedBuildIds(header: Header): Set<string> {
  const ids = new Set<string>();
  for (const m of header.mappings) if (m.buildId !== ZERO_BUILD_ID) ids.add(m.buildId);
  ids.add(header.buildId);
  return ids;
}

/** Build ids the mappings read from (the ones that must exist), in first-use order. */
export function mappedBuildIds(header: Header): string[] {
  const ids = new Set<string>();
  for (const m of header.mappings) if (m.buildId !== ZERO_BUILD_ID) ids.add(m.buildId);
  return [...ids];
}
