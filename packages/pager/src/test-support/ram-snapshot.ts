// Snapshot generations from a live guest-RAM file, for the real-QEMU test: generation 0 packs every
// non-zero page; a diff packs the given dirty ranges and overlays them on the parent's header. The RAM
// file is only ever pread (an mmap would fill its holes and spoil a lazy restore).
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { seekDataRanges } from '@amber/native';
import { ZERO_BUILD_ID } from '../block-table.js';
import type { ServedHeader, SnapshotSource } from '../snapshot-source.js';

const PAGE = 4096;
type Mapping = ServedHeader['mappings'][number];

function pushMapping(out: Mapping[], m: Mapping): void {
  const last = out.at(-1);
  if (
    last &&
    last.buildId === m.buildId &&
    last.offset + last.length === m.offset &&
    (m.buildId === ZERO_BUILD_ID || last.storageOffset + last.length === m.storageOffset)
  ) {
    last.length += m.length;
  } else out.push({ ...m });
}

/** Packs `pages` of the RAM file (ascending) into memfile.<id>; returns page -> storage offset. */
function pack(ramFd: number, pages: number[], path: string): Map<number, number> {
  const out = openSync(path, 'w');
  const buf = Buffer.alloc(PAGE);
  const where = new Map<number, number>();
  try {
    for (const p of pages) {
      readSync(ramFd, buf, 0, PAGE, p * PAGE);
      where.set(p, where.size * PAGE);
      writeSync(out, buf, 0, PAGE, where.get(p));
    }
  } finally {
    closeSync(out);
  }
  return where;
}

export function baseFromRamFile(ramPath: string, size: number, dir: string): SnapshotSource {
  const buildId = randomUUID();
  const fd = openSync(ramPath, 'r');
  const pages: number[] = [];
  try {
    const buf = Buffer.alloc(PAGE);
    for (const [start, end] of seekDataRanges(fd, size)) {
      for (let p = start / PAGE; p < end / PAGE; p++) {
        readSync(fd, buf, 0, PAGE, p * PAGE);
        if (buf.some((b) => b !== 0)) pages.push(p);
      }
    }
    const where = pack(fd, pages, join(dir, `memfile.${buildId}`));
    const mappings: Mapping[] = [];
    for (let p = 0; p < size / PAGE; p++) {
      const storage = where.get(p);
      pushMapping(mappings, {
        offset: p * PAGE,
        length: PAGE,
        buildId: storage === undefined ? ZERO_BUILD_ID : buildId,
        storageOffset: storage ?? 0,
      });
    }
    return {
      header: { size, generation: 0, buildId, mappings },
      dataFilePath: (id) => join(dir, `memfile.${id}`),
    };
  } finally {
    closeSync(fd);
  }
}

export function diffFromRamFile(
  parent: SnapshotSource,
  dirty: ReadonlyArray<readonly [number, number]>,
  ramPath: string,
  dir: string,
): SnapshotSource {
  const buildId = randomUUID();
  const pages: number[] = [];
  for (const [s, e] of dirty) for (let p = s / PAGE; p < e / PAGE; p++) pages.push(p);
  const fd = openSync(ramPath, 'r');
  let where: Map<number, number>;
  try {
    where = pack(fd, pages, join(dir, `memfile.${buildId}`));
  } finally {
    closeSync(fd);
  }
  const mappings: Mapping[] = [];
  for (const m of parent.header.mappings) {
    for (let off = m.offset; off < m.offset + m.length; off += PAGE) {
      const storage = where.get(off / PAGE);
      pushMapping(
        mappings,
        storage === undefined
          ? {
              offset: off,
              length: PAGE,
              buildId: m.buildId,
              storageOffset: m.storageOffset + (off - m.offset),
            }
          : { offset: off, length: PAGE, buildId, storageOffset: storage },
      );
    }
  }
  const header: ServedHeader = {
    size: parent.header.size,
    generation: parent.header.generation + 1,
    buildId,
    mappings,
  };
  return { header, dataFilePath: parent.dataFilePath };
}
