/** The pager's one error type; `code` is stable and meant for programs, the message for people. */
export type PagerErrorCode =
  /** The handoff message was not Firecracker's GuestRegionUffdMapping JSON array. */
  | 'bad_handoff'
  /** The handoff carried no userfaultfd (or more than one fd). */
  | 'no_fd'
  /** A page size other than 4 KiB. */
  | 'bad_page_size'
  /** The mapped regions do not fit the snapshot (offset + size beyond its memory size, overlaps). */
  | 'layout_mismatch'
  /** No handoff arrived in time. */
  | 'handoff_timeout'
  /** The snapshot directory has no header, or it cannot be served. */
  | 'no_snapshot'
  | 'bad_header'
  /** A data file could not be read; the fault is being retried. */
  | 'storage_read_failed'
  /** The fault loop hit an unexpected userfaultfd error. */
  | 'uffd_error'
  /** Dirty pages were asked for but tracking is off (or the kernel cannot do it). */
  | 'dirty_tracking_off'
  | 'scan_failed'
  | 'detach_failed'
  /** The call needs an attached guest and there is none (yet, or any more). */
  | 'not_attached'
  | 'closed'
  | 'bad_working_set';

export class PagerError extends Error {
  constructor(
    readonly code: PagerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PagerError';
  }
}
