/** The image package's one error type; `code` is stable, the message says what to do. */
export class ImageError extends Error {
  constructor(
    readonly code: 'missing_tool' | 'command_failed' | 'download_failed' | 'corrupt_cache' | 'invalid_input',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ImageError';
  }
}
