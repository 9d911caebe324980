import { ApiError } from '../errors.js';

/**
 * The e2b layer's one error type: E2B's body `{"code": <HTTP status>, "message"}`. The SDK recognises
 * "not found" and "conflict" by that numeric `code`, not by the status line, so every answer carries it.
 */
export class E2bError extends Error {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'E2bError';
  }

  toJSON() {
    return { code: this.status, message: this.message };
  }
}

export const unsupported = (what: string) =>
  new E2bError(400, `${what} is not supported by Amber (see packages/control-plane/E2B.md)`);

/** Any failure as E2B's shape: Amber's ApiError keeps its status and message. */
export function toE2bError(err: unknown): E2bError {
  if (err instanceof E2bError) return err;
  if (err instanceof ApiError) return new E2bError(err.status, err.message, { cause: err });
  const validation = (err as { validation?: unknown; statusCode?: number; message?: string }) ?? {};
  if (validation.validation || validation.statusCode === 400 || validation.statusCode === 415) {
    return new E2bError(validation.statusCode ?? 400, validation.message ?? 'bad request', { cause: err });
  }
  if (validation.statusCode === 413) return new E2bError(413, validation.message ?? 'body too large');
  return new E2bError(500, (err as Error)?.message ?? String(err), { cause: err });
}
