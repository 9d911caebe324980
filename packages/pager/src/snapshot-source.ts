// Opens what the pager serves from: the memsnap header of a snapshot directory and the data file of
// every generation it references (memfile.<buildId>), read-only.
import { closeSync, openSync } from 'node:fs';
import { type BlockTable, buildBlockTable, type HeaderLike } from './block-table.js';
import { PagerError } from './errors.js';

export type ServedHeader = HeaderLike & { generation: number; buildId: string };

/** A header already in memory, with where its generations' data files live. */
export interface SnapshotSource {
  header: ServedHeader;
  dataFilePath(buildId: string): string;
}

/** The part of memsnap's SnapshotDir the pager uses. */
interface SnapshotDirLike {
  header(): ServedHeader | undefined | Promise<ServedHeader | undefined>;
  dataFilePath(buildId: string): string;
}

export interface OpenedSnapshot {
  header: ServedHeader;
  table: BlockTable;
  /** One fd per table.buildIds entry. */
  fds: number[];
  close(): void;
}

/** Reads `memfile.header` of a memsnap directory (or takes a given header) and opens its data files. */
export async function openSnapshot(from: string | SnapshotSource): Promise<OpenedSnapshot> {
  const where = typeof from === 'string' ? from : 'the given snapshot';
  let snapshot: SnapshotSource;
  if (typeof from === 'string') {
    let header: ServedHeader | undefined;
    let dir: SnapshotDirLike;
    try {
      // Loaded on demand: a pager given an in-memory header never needs the directory reader.
      const memsnap = (await import('@amber/memsnap')) as unknown as {
        SnapshotDir: { open(dir: string): SnapshotDirLike | Promise<SnapshotDirLike> };
      };
      dir = await memsnap.SnapshotDir.open(from);
      header = await dir.header();
    } catch (cause) {
      throw new PagerError('no_snapshot', `cannot read the snapshot in ${from}: ${String(cause)}`, { cause });
    }
    if (!header) throw new PagerError('no_snapshot', `${from} has no memfile.header`);
    snapshot = { header, dataFilePath: (id) => dir.dataFilePath(id) };
  } else {
    snapshot = from;
  }
  const header = snapshot.header;
  const table = buildBlockTable(header);
  const fds: number[] = [];
  try {
    for (const id of table.buildIds) fds.push(openSync(snapshot.dataFilePath(id), 'r'));
  } catch (cause) {
    for (const fd of fds) closeSync(fd);
    throw new PagerError('no_snapshot', `a data file of ${where} cannot be opened: ${String(cause)}`, {
      cause,
    });
  }
  return {
    header,
    table,
    fds,
    close: () => {
      for (const fd of fds.splice(0)) closeSync(fd);
    },
  };
}
