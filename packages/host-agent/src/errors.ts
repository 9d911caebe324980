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

/** Where an error's `reason` travels over the RPC: a caller acts on it (a CLI exits 127 for a missing command). */
export const REASON_HEADER = 'amber-reason';

/** The host agent's one error type. */
export class AgentError extends Error {
  readonly reason: string | undefined;

  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown; reason?: string | undefined },
  ) {
    super(message, options);
    this.name = 'AgentError';
    this.reason = options?.reason;
  }

  toConnectError(): ConnectError {
    const metadata = this.reason ? { [REASON_HEADER]: this.reason } : undefined;
    return new ConnectError(this.message, toConnect[this.code], metadata, undefined, this);
  }
}

export function notFound(what: string, id: string): AgentError {
  return new AgentError('not_found', `${what} ${id} not found`);
}
