// The SDK's one error type. `code` is the control plane's stable code (`not_found`, `invalid_state`, ...);
// failures that never reached it are `unavailable` (network) with status 0.

const codeByStatus: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'resource_exhausted',
  501: 'unimplemented',
  503: 'unavailable',
};

const statusByCode: Record<string, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  invalid_state: 409,
  already_exists: 409,
  conflict: 409,
  payload_too_large: 413,
  insufficient_capacity: 503,
  unavailable: 503,
  internal: 500,
};

export class AmberError extends Error {
  override readonly name = 'AmberError';
  /** Why, where the server says more than the code: `command_not_found`, `command_not_executable`. */
  readonly reason: string | undefined;
  constructor(
    /** Stable machine-readable code, e.g. `not_found`. */
    readonly code: string,
    /** The HTTP status, or 0 when no response arrived. */
    readonly status: number,
    message: string,
    options?: { cause?: unknown; reason?: string | undefined },
  ) {
    super(message, options);
    this.reason = options?.reason;
  }
}

/** The server's `{"error": {code, message, reason?}}` as an AmberError, if it is one. */
export function errorFromBody(body: unknown, status?: number): AmberError | undefined {
  const { code, message, reason } = (body as { error?: Record<string, unknown> } | null)?.error ?? {};
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  return new AmberError(code, status ?? statusForCode(code), message, {
    ...(typeof reason === 'string' && { reason }),
  });
}

export function codeForStatus(status: number): string {
  return codeByStatus[status] ?? (status >= 500 ? 'internal' : 'unknown');
}

/** The HTTP status a code stands for, for errors that arrive over the WebSocket. */
export function statusForCode(code: string): number {
  return statusByCode[code] ?? 500;
}

/** Builds the error for a non-2xx response from its `{"error": {code, message}}` body when it has one. */
export async function errorFromResponse(res: Response): Promise<AmberError> {
  const text = await res.text().catch(() => '');
  try {
    const error = errorFromBody(JSON.parse(text), res.status);
    if (error) return error;
  } catch {
    // Not JSON (a proxy's page, an empty body): fall through to the status.
  }
  const detail = text.trim().slice(0, 200);
  return new AmberError(
    codeForStatus(res.status),
    res.status,
    `HTTP ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`,
  );
}
