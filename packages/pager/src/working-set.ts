// A recorded working set (guest page offsets in first-touch order), stored compactly so a template can
// ship it: "AMWS", u32 version, u32 count, then u32 page indices (4 KiB pages, up to 16 TiB of RAM).
// Version 2 lists every page to fetch; version 1 listed only the page each fault hit, whose aligned window
// of 8 a restore fetched, so reading one gives those windows.
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { PagerError } from './errors.js';
import { PAGE_SIZE } from './handoff-message.js';

const MAGIC = 0x53574d41; // "AMWS" little-endian
const VERSION = 2;
const V1_WINDOW_PAGES = 8;

/** At most 128 MiB of pages: a recording is what a restore needs first, not a copy of all memory. */
export const MAX_WORKING_SET_PAGES = 32768;

/** `first`, then the pages of `then` not in it, without repeats and at most `max` pages. */
export function mergeWorkingSets(
  first: readonly number[],
  then: readonly number[],
  max = MAX_WORKING_SET_PAGES,
): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const list of [first, then]) {
    for (const offset of list) {
      if (out.length >= max) return out;
      if (seen.has(offset)) continue;
      seen.add(offset);
      out.push(offset);
    }
  }
  return out;
}

export function encodeWorkingSet(offsets: readonly number[]): Buffer {
  const out = Buffer.alloc(12 + offsets.length * 4);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(VERSION, 4);
  out.writeUInt32LE(offsets.length, 8);
  offsets.forEach((offset, i) => {
    out.writeUInt32LE(Math.floor(offset / PAGE_SIZE), 12 + i * 4);
  });
  return out;
}

export function decodeWorkingSet(data: Buffer): number[] {
  const version = data.length >= 12 && data.readUInt32LE(0) === MAGIC ? data.readUInt32LE(4) : 0;
  if (version !== 1 && version !== VERSION) {
    throw new PagerError('bad_working_set', 'not a version-1 or -2 working-set file');
  }
  const count = data.readUInt32LE(8);
  if (data.length !== 12 + count * 4)
    throw new PagerError('bad_working_set', 'working-set file is truncated');
  const pages: number[] = new Array(count);
  for (let i = 0; i < count; i++) pages[i] = data.readUInt32LE(12 + i * 4);
  const listed = version === 1 ? pages.flatMap(v1Window) : pages;
  return mergeWorkingSets(
    listed.map((page) => page * PAGE_SIZE),
    [],
  );
}

function v1Window(page: number): number[] {
  const first = page - (page % V1_WINDOW_PAGES);
  return Array.from({ length: V1_WINDOW_PAGES }, (_, i) => first + i);
}

/**
 * Written under a temp name and renamed: the file may be a hard link shared with a template (a spawned
 * sandbox starts with its template's recording), which an in-place write would change too. A hint, so no
 * fsync: a lost recording costs speed, never data.
 */
export async function saveWorkingSet(path: string, offsets: readonly number[]): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(temp, encodeWorkingSet(offsets));
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export async function loadWorkingSet(path: string): Promise<number[]> {
  return decodeWorkingSet(await readFile(path));
}
