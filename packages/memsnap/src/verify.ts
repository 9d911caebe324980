// A snapshot is loadable when its header is valid and every data file the mappings read from exists and
// is long enough. Cheap (one stat per generation), so writers run it before building on a parent.
import { stat } from 'node:fs/promises';
import { ZERO_BUILD_ID } from './build-id.js';
import { fmtOffset, MemsnapError } from './errors.js';
import type { Header, Mapping } from './header.js';
import { dataFilePath } from './layout.js';

export interface VerifiedFile {
  buildId: string;
  path: string;
  size: number;
  /** Bytes the mappings need from it (the largest storage end). */
  needed: number;
}

export interface VerifyReport {
  header: Header;
  files: VerifiedFile[];
}

export async function verifyDataFiles(
  dir: string,
  header: Header,
  headerPath: string,
): Promise<VerifyReport> {
  // Per build id: the first mapping using it (for "missing") and the one reading furthest (for "short").
  const uses = new Map<string, { first: number; far: number; needed: number }>();
  header.mappings.forEach((m: Mapping, i: number) => {
    if (m.buildId === ZERO_BUILD_ID) return;
    const end = m.storageOffset + m.length;
    const u = uses.get(m.buildId);
    if (!u) uses.set(m.buildId, { first: i, far: i, needed: end });
    else if (end > u.needed) Object.assign(u, { far: i, needed: end });
  });
  const files: VerifiedFile[] = [];
  for (const [buildId, u] of uses) {
    const path = dataFilePath(dir, buildId);
    const first = header.mappings[u.first] as Mapping;
    const far = header.mappings[u.far] as Mapping;
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (cause) {
      throw new MemsnapError(
        'missing_data_file',
        `${path}: missing, but mapping ${u.first} at offset ${fmtOffset(first.offset)} of ${headerPath} reads from it (${String(cause)})`,
        { file: path, entry: u.first, offset: first.offset, cause },
      );
    }
    if (size < u.needed) {
      throw new MemsnapError(
        'short_data_file',
        `${path}: ${size} bytes, but mapping ${u.far} at offset ${fmtOffset(far.offset)} of ${headerPath} reads up to ${fmtOffset(u.needed)}`,
        { file: path, entry: u.far, offset: far.offset },
      );
    }
    files.push({ buildId, path, size, needed: u.needed });
  }
  return { header, files };
}
