/** The QEMU driver's one error type. `detail` carries the tail of QEMU's stderr/console when it helps. */
export type VmmErrorCode =
  | 'invalid_spec'
  | 'qemu_not_found'
  | 'qemu_start_failed'
  | 'qemu_exited'
  | 'qmp_timeout'
  | 'qmp_error'
  | 'qmp_closed'
  | 'migration_failed'
  | 'invalid_state';

export class VmmError extends Error {
  constructor(
    readonly code: VmmErrorCode,
    message: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(options?.detail ? `${message}\n${options.detail}` : message, options);
    this.name = 'VmmError';
  }
}
