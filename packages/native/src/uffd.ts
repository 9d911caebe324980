// Typed userfaultfd calls. Each is one non-blocking syscall; a userfaultfd must be served from a
// different thread (or process) than the one that faults, so serving from JS only works for a fault
// in another process — production serving runs in FaultServer's native thread.
import { closeSync } from 'node:fs';
import { binding } from './binding.js';

/** UFFD_FEATURE_* (kernel ABI values; the newer ones are missing from Debian 12's headers). */
export const UffdFeature = {
  PAGEFAULT_FLAG_WP: 1 << 0,
  EVENT_FORK: 1 << 1,
  EVENT_REMAP: 1 << 2,
  EVENT_REMOVE: 1 << 3,
  MISSING_HUGETLBFS: 1 << 4,
  MISSING_SHMEM: 1 << 5,
  EVENT_UNMAP: 1 << 6,
  SIGBUS: 1 << 7,
  THREAD_ID: 1 << 8,
  MINOR_HUGETLBFS: 1 << 9,
  MINOR_SHMEM: 1 << 10,
  EXACT_ADDRESS: 1 << 11,
  WP_HUGETLBFS_SHMEM: 1 << 12,
  WP_UNPOPULATED: 1 << 13,
  POISON: 1 << 14,
  WP_ASYNC: 1 << 15,
  MOVE: 1 << 16,
} as const;

export const UffdRegisterMode = { MISSING: 1, WP: 2, MINOR: 4 } as const;
export const UffdCopyMode = { DONTWAKE: 1, WP: 2 } as const;
export const UffdZeropageMode = { DONTWAKE: 1 } as const;
export const UffdWriteprotectMode = { WP: 1, DONTWAKE: 2 } as const;
export const UffdPagefaultFlag = { WRITE: 1, WP: 2, MINOR: 4 } as const;

export interface UffdApiResult {
  /** Granted features (all supported ones when 0 was requested). */
  features: number;
  /** Bitmask of available ioctls (_UFFDIO_* bit numbers); bit 63 is UFFDIO_API itself. */
  ioctls: bigint;
}

export type UffdEvent =
  | { type: 'pagefault'; address: number; flags: number; write: boolean; wp: boolean; minor: boolean }
  | { type: 'fork'; ufd: number }
  | { type: 'remap'; from: number; to: number; length: number }
  | { type: 'remove'; start: number; end: number }
  | { type: 'unmap'; start: number; end: number }
  | { type: 'unknown'; event: number };

/** A new userfaultfd (O_CLOEXEC | O_NONBLOCK unless `flags` says otherwise). */
export function uffdCreate(flags?: number): number {
  return binding.uffdCreate(flags);
}

/** UFFDIO_API. Call once per fd; ask for 0 features on a throwaway fd to learn what the kernel has. */
export function uffdApi(fd: number, features: number): UffdApiResult {
  return binding.uffdApi(fd, features);
}

/** The features this kernel supports (probes with a throwaway userfaultfd). */
export function uffdSupportedFeatures(): number {
  const fd = uffdCreate();
  try {
    return uffdApi(fd, 0).features;
  } finally {
    closeSync(fd);
  }
}

/** UFFDIO_REGISTER with MISSING and/or WP (UffdRegisterMode); returns the range's ioctl mask. */
export function uffdRegister(fd: number, start: number, length: number, mode: number): bigint {
  return binding.uffdRegister(fd, start, length, mode);
}

export function uffdUnregister(fd: number, start: number, length: number): void {
  binding.uffdUnregister(fd, start, length);
}

/**
 * UFFDIO_COPY of `src` to `dst` (UffdCopyMode.WP installs the pages write-protected, DONTWAKE defers the
 * wake-up). Returns bytes copied. On failure the error's `code` is the errno name and `copied` the
 * partial progress.
 */
export function uffdCopy(fd: number, dst: number, src: Uint8Array, mode = 0): number {
  return binding.uffdCopy(fd, dst, src, mode);
}

export function uffdZeropage(fd: number, start: number, length: number, mode = 0): number {
  return binding.uffdZeropage(fd, start, length, mode);
}

export function uffdWake(fd: number, start: number, length: number): void {
  binding.uffdWake(fd, start, length);
}

/** Protects (UffdWriteprotectMode.WP) or un-protects (0, which also wakes a blocked writer) a range. */
export function uffdWriteprotect(fd: number, start: number, length: number, mode: number): void {
  binding.uffdWriteprotect(fd, start, length, mode);
}

/** Reads up to `max` queued events without blocking; [] when none are queued. */
export function uffdReadEvents(fd: number, max = 64): UffdEvent[] {
  return binding.uffdReadEvents(fd, max) as UffdEvent[];
}
