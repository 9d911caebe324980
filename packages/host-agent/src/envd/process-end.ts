/** The fields of envd's process end event that say how it ended. */
export interface ProcessEnd {
  exited: boolean;
  status: string;
  error?: string;
}

/**
 * Why a command never started (no such program, no such working directory), or undefined if it ran: envd
 * ends such a command with `exited: false` and an error, but no signal in its status.
 */
export function startFailure(end: ProcessEnd): string | undefined {
  return !end.exited && end.error && !end.status.startsWith('signal: ') ? end.error : undefined;
}
