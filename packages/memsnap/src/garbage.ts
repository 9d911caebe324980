// What a directory holds that its header does not need: older generations' data files and temp files of
// writes that never committed (a crash, an error). Only names memsnap owns are ever listed.
import { readdir } from 'node:fs/promises';
import { TEMP_PREFIX } from './durable-fs.js';
import type { Header } from './header.js';
import { DATA_PREFIX, dataFileName, HEADER_FILE, referencedBuildIds } from './layout.js';

/** File names (not paths) in `dir` that `header` (or, without one, nothing) references. Sorted. */
export async function listGarbage(dir: string, header: Header | undefined): Promise<string[]> {
  const keep = new Set<string>([HEADER_FILE]);
  if (header) for (const id of referencedBuildIds(header)) keep.add(dataFileName(id));
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const name = entry.name;
    if (name.startsWith(TEMP_PREFIX) || (name.startsWith(DATA_PREFIX) && !keep.has(name))) out.push(name);
  }
  return out.sort();
}
