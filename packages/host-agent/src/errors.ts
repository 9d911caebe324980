import { Code, ConnectError } from '@connectrpc/connect';

/** Stable codes a caller can branch on; the RPC layer maps them to Connect codes. */
export type AgentErrorCode =
  | 'not_found'
  | 'invalid_argument'
  | 'already_exists'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'unavailable'
  | 'deadline_exceeded'
  | 'unauthenticated'
  | 'internal';

const toConnect: Record<AgentErrorCode, Code> = {
  not_found: Code.NotFound,
  invalid_argument: Code.InvalidArgument,
  already_exists: Code.AlreadyExists,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  unauthenticated: Code.Unauthenticated,
  internal: Code.Internal,
};

/** The host agent's one error type. */
export class AgentError extends Error {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
  }

  toConnectError(): ConnectError {
    return new ConnectError(this.message, toConnect[this.code], undefined, undefined, this);
  }
}

export function notFound(what: string, id: string): AgentError {
  return new AgentError('not_found', `${what} ${id} not found`);
}
