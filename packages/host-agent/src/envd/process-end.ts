import { signalOfStatus } from '@amber/proto/process-status';

/** The fields of envd's process end event that say how it ended. */
export interface ProcessEnd {
  exitCode: number;
  exited: boolean;
  status: string;
  error?: string;
}

/**
 * How a command ended, as every reader of envd's end event reports it: `notStarted` says why it never ran
 * (no such program, no such working directory: envd ends it with `exited: false` and an error, but no
 * signal in its status); otherwise its exit code, or the name of the signal that ended it.
 */
export type CommandEnd = { notStarted: string } | { exitCode: number; signal: string | null };

export function commandEnd(end: ProcessEnd): CommandEnd {
  if (end.exited) return { exitCode: end.exitCode, signal: null };
  if (end.error && !end.status.startsWith('signal: ')) return { notStarted: end.error };
  // Ended without exiting: a signal ended it, even if its words are none this host knows.
  return { exitCode: end.exitCode, signal: signalOfStatus(end.status) ?? 'SIGKILL' };
}
