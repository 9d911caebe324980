/** Stable codes of the REST API; each maps to one HTTP status. */
export type ApiErrorCode =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'not_found'
  | 'invalid_state'
  | 'already_exists'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'insufficient_capacity'
  | 'unavailable'
  | 'internal';

export const STATUS: Record<ApiErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  not_found: 404,
  invalid_state: 409,
  already_exists: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  insufficient_capacity: 503,
  unavailable: 503,
  internal: 500,
};

/**
 * The control plane's one error type: what a client sees as `{"error": {"code", "message"}}`, plus a
 * `reason` where a client acts on more than the code (a command that is not there: a CLI exits 127).
 */
export class ApiError extends Error {
  readonly reason: string | undefined;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown; reason?: string | undefined },
  ) {
    super(message, options);
    this.name = 'ApiError';
    this.reason = options?.reason;
  }

  get status(): number {
    return STATUS[this.code];
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.reason && { reason: this.reason }) } };
  }
}

export const notFound = (what: string, id: string) => new ApiError('not_found', `${what} ${id} not found`);
