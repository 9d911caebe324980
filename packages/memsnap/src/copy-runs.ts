// Executes a merge plan in one call to a native loop on a worker thread (copyRuns of @amber/native): a
// merge is thousands of short runs, and a thread-pool round trip per run cost more than the copying.
// Block data never passes through JavaScript.
import { type FileHandle, open, stat } from 'node:fs/promises';
import { allocate, copyRuns as copyFileRuns } from '@amber/native';
import { fmtOffset, MemsnapError } from './errors.js';
import type { CopyRun } from './merge-plan.js';

/**
 * Every this many bytes copied, writeback of the output starts (sync_file_range, not waiting), so the disk
 * writes the first part while the kernel copies the rest and the fsync before the header has little left
 * to wait for. With the output's blocks allocated up front, a durable merge costs little more than the
 * copy alone (measured on ext4: 172 MiB copied and fsynced in 51 ms, against 100 ms for copy then fsync).
 */
const WRITEBACK_EVERY = 4 << 20;

export async function copyRuns(
  runs: readonly CopyRun[],
  out: FileHandle,
  pathOf: (buildId: string) => string,
): Promise<void> {
  const inputs = new Map<string, { index: number; handle: FileHandle }>();
  try {
    for (const r of runs) {
      if (!inputs.has(r.buildId)) {
        inputs.set(r.buildId, { index: inputs.size, handle: await open(pathOf(r.buildId), 'r') });
      }
    }
    const end = runs.reduce((max, r) => Math.max(max, r.to + r.length), 0);
    await allocate(out.fd, 0, end);
    const fds = [...inputs.values()].map((i) => i.handle.fd);
    const plan = runs.map((r) => ({
      input: inputs.get(r.buildId)?.index ?? -1,
      from: r.from,
      to: r.to,
      length: r.length,
    }));
    // The copy runs on a worker thread; the input fds stay open until it has returned.
    const short = runs[await copyFileRuns(fds, plan, out.fd, WRITEBACK_EVERY)];
    if (short) {
      const path = pathOf(short.buildId);
      const copied = Math.max(0, (await stat(path)).size - short.from);
      throw new MemsnapError(
        'short_data_file',
        `${path}: ended after ${copied} of ${short.length} bytes at storage offset ${fmtOffset(short.from)}`,
        { file: path, offset: short.from + copied },
      );
    }
  } finally {
    for (const { handle } of inputs.values()) await handle.close();
  }
}
