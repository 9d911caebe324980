import { signalOfStatus } from '@amber/proto/process-status';

/** The fields of envd's process end event that say how it ended. */
export interface ProcessEnd {
  exitCode: number;
  exited: boolean;
  status: string;
  error?: string;
}

/**
 * Why a command never ran, where a shell would say it with an exit code (127, 126): what a CLI needs to
 * exit as the shell would, without reading the message.
 */
export type NotStartedReason = 'command_not_found' | 'command_not_executable';

/**
 * How a command ended, as every reader of envd's end event reports it: `notStarted` says why it never ran
 * (no such program, not executable: envd ends it with `exited: false` and an error, but no signal in its
 * status); otherwise its exit code, or the name of the signal that ended it.
 */
export type CommandEnd =
  | { notStarted: string; reason?: NotStartedReason }
  | { exitCode: number; signal: string | null };

// envd words a failed start as Node does ("spawn ls ENOENT"); its working directory was checked before.
const REASON_OF_ERRNO: Record<string, NotStartedReason> = {
  ENOENT: 'command_not_found',
  EACCES: 'command_not_executable',
  ENOEXEC: 'command_not_executable',
};

export function commandEnd(end: ProcessEnd): CommandEnd {
  if (end.exited) return { exitCode: end.exitCode, signal: null };
  if (end.error && !end.status.startsWith('signal: ')) {
    const reason = REASON_OF_ERRNO[/\b(E[A-Z]+)$/.exec(end.error)?.[1] ?? ''];
    return { notStarted: end.error, ...(reason && { reason }) };
  }
  // Ended without exiting: a signal ended it, even if its words are none this host knows.
  return { exitCode: end.exitCode, signal: signalOfStatus(end.status) ?? 'SIGKILL' };
}
