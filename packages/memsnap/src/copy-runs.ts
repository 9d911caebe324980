// Executes a merge plan with copy_file_range, so block data moves inside the kernel (page cache to page
// cache, or a reflink where the filesystem has them) and never through JavaScript buffers.
import { type FileHandle, open } from 'node:fs/promises';
import { copyFileRangeAsync } from '@amber/native';
import { fmtOffset, MemsnapError } from './errors.js';
import type { CopyRun } from './merge-plan.js';

/** Small runs are issued this many at a time: it hides the thread-pool round trip of each call. */
const IN_FLIGHT = 16;
/**
 * Every this many bytes an fdatasync starts in the background while copying goes on, so the disk writes
 * the first part while the kernel copies the rest: the final fsync then has little left to wait for.
 * (A merge must be durable before its header; this keeps that from doubling its time.)
 */
const SYNC_EVERY = 32 << 20;
/** Largest single copy_file_range call. */
const PIECE = 8 << 20;

function splitRuns(runs: readonly CopyRun[], max: number): CopyRun[] {
  const out: CopyRun[] = [];
  for (const r of runs) {
    for (let done = 0; done < r.length; done += max) {
      out.push({
        buildId: r.buildId,
        from: r.from + done,
        to: r.to + done,
        length: Math.min(max, r.length - done),
      });
    }
  }
  return out;
}

export async function copyRuns(
  runs: readonly CopyRun[],
  out: FileHandle,
  pathOf: (buildId: string) => string,
): Promise<void> {
  const inputs = new Map<string, FileHandle>();
  try {
    for (const r of runs) {
      if (!inputs.has(r.buildId)) inputs.set(r.buildId, await open(pathOf(r.buildId), 'r'));
    }
    // Big runs are cut so the background syncs can start while they are still being copied.
    const pieces = splitRuns(runs, PIECE);
    let next = 0;
    let sinceSync = 0;
    let syncing: Promise<void> | undefined;
    let failure: unknown;
    const fail = (err: unknown): void => {
      failure ??= err;
    };
    const worker = async (): Promise<void> => {
      while (next < pieces.length && failure === undefined) {
        const r = pieces[next++] as CopyRun;
        const fd = (inputs.get(r.buildId) as FileHandle).fd;
        const n = await copyFileRangeAsync(fd, r.from, out.fd, r.to, r.length).catch((err: unknown) => {
          fail(err);
          return r.length;
        });
        if (n !== r.length) {
          fail(
            new MemsnapError(
              'short_data_file',
              `${pathOf(r.buildId)}: ended after ${n} of ${r.length} bytes at storage offset ${fmtOffset(r.from)}`,
              { file: pathOf(r.buildId), offset: r.from + n },
            ),
          );
        }
        sinceSync += r.length;
        if (sinceSync >= SYNC_EVERY && !syncing) {
          sinceSync = 0;
          syncing = out
            .datasync()
            .catch(fail)
            .finally(() => {
              syncing = undefined;
            });
        }
      }
    };
    // Workers never reject, so every copy has finished before the finally block closes its fds (a
    // closed fd number could be reused by the next open while a copy still runs on a worker thread).
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, pieces.length) }, worker));
    while (syncing) await syncing;
    if (failure !== undefined) throw failure;
  } finally {
    for (const fh of inputs.values()) await fh.close();
  }
}
