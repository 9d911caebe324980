// Snapshot-file accelerators: find data extents of a sparse file, and copy between files in-kernel.
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
