// Snapshot-file accelerators: find data extents of a sparse file, copy between files in-kernel (one run
// or a whole plan), and let a durable copy's disk writes overlap the copying.
import { binding } from './binding.js';

/**
 * The data extents [start, end) of the file below `size`, via SEEK_DATA/SEEK_HOLE (never reads the
 * file; never mmaps it, which would fill holes of a lazily-restored RAM file).
 */
export function seekDataRanges(fd: number, size: number): Array<[number, number]> {
  return binding.seekDataRanges(fd, size);
}

/**
 * copy_file_range until `length` bytes are copied or the source ends; returns bytes copied. Runs on the
 * calling thread: use copyFileRangeAsync for large copies from the event loop.
 */
export function copyFileRange(
  fdIn: number,
  offIn: number,
  fdOut: number,
  offOut: number,
  length: number,
): number {
  return binding.copyFileRange(fdIn, offIn, fdOut, offOut, length);
}

/** copyFileRange on a libuv worker thread. */
export function copyFileRangeAsync(
  fdIn: number,
  offIn: number,
  fdOut: number,
  offOut: number,
  length: number,
): Promise<number> {
  return binding.copyFileRangeAsync(fdIn, offIn, fdOut, offOut, length);
}

/**
 * fallocate(mode 0) on a libuv worker thread: reserves the blocks before they are written, so the
 * writeback of a file copied in pieces does not allocate them one by one (a shorter final fsync on ext4).
 */
export async function allocate(fd: number, offset: number, length: number): Promise<void> {
  await binding.allocateAsync(fd, offset, length);
}

/** One piece of a copyRuns plan: `length` bytes from offset `from` of input `input` to offset `to`. */
export interface FileCopyRun {
  /** Index into copyRuns' `inputs`. */
  input: number;
  from: number;
  to: number;
  length: number;
}

/**
 * Executes a copy plan in order on one libuv worker thread (a single round trip for thousands of runs):
 * short runs are gathered into large writes, long ones copied with copy_file_range, and writeback of the
 * output starts every `writebackEvery` bytes (0: never) so a following fsync has little left to wait for.
 * Returns how many runs completed; fewer than given means the next run's source ended early.
 */
export function copyRuns(
  inputs: readonly number[],
  runs: readonly FileCopyRun[],
  outFd: number,
  writebackEvery = 0,
): Promise<number> {
  const flat = new Float64Array(runs.length * 4);
  for (const [i, r] of runs.entries()) flat.set([r.input, r.from, r.to, r.length], i * 4);
  return binding.copyRunsAsync([...inputs], flat, outFd, writebackEvery);
}
