import { REASON_HEADER } from '@amber/host-agent';
import { Code, ConnectError } from '@connectrpc/connect';
import { ApiError, type ApiErrorCode } from '../errors.js';

const fromConnect: Partial<Record<Code, ApiErrorCode>> = {
  [Code.NotFound]: 'not_found',
  [Code.InvalidArgument]: 'invalid_argument',
  [Code.AlreadyExists]: 'already_exists',
  [Code.ResourceExhausted]: 'insufficient_capacity',
  [Code.FailedPrecondition]: 'invalid_state',
  [Code.Unavailable]: 'unavailable',
};

/** A host agent's (or envd's) failure as the API's error; the message is the agent's own, which is specific. */
export function fromAgentError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ConnectError) {
    const code = fromConnect[err.code] ?? 'internal';
    return new ApiError(code, err.rawMessage, {
      cause: err,
      reason: err.metadata.get(REASON_HEADER) ?? undefined,
    });
  }
  const errno = (err as NodeJS.ErrnoException)?.code;
  if (errno === 'ECONNREFUSED' || errno === 'ENOENT' || errno === 'EPIPE') {
    return new ApiError('unavailable', `the host agent cannot be reached: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new ApiError('internal', (err as Error)?.message ?? String(err), { cause: err });
}

/** envd answers Unauthenticated for an unknown guest user: the caller's input, not our credentials. */
export async function envdCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.Unauthenticated) {
      throw new ApiError('invalid_argument', err.rawMessage, { cause: err });
    }
    throw fromAgentError(err);
  }
}

/** Runs an agent call and maps its failure. */
export async function agentCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromAgentError(err);
  }
}

export function isNotFound(err: unknown): boolean {
  return (
    (err instanceof ConnectError && err.code === Code.NotFound) ||
    (err instanceof ApiError && err.code === 'not_found')
  );
}
