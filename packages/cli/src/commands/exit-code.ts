import { constants } from 'node:os';

/** A shell's convention: the exit code, or 128 + the signal's number when a signal ended the process. */
export function exitCodeOf(exit: { exitCode: number; signal: string | null }): number {
  if (exit.signal) {
    // The name may come wrapped, as older control planes sent envd's status: "signal: SIGKILL". A
    // real-time signal has no name: "SIG36".
    const name = /SIG[A-Z0-9]+/.exec(exit.signal)?.[0] ?? '';
    const number = /^SIG(\d+)$/.exec(name)?.[1];
    if (number !== undefined) return 128 + Number(number);
    return 128 + ((constants.signals as Record<string, number | undefined>)[name] ?? 0);
  }
  return exit.exitCode;
}

/** What a shell exits with for a command it could not run (127, 126); 1 for any other failure of amber's. */
export function exitCodeOfError(err: unknown): number {
  const reason = (err as { reason?: unknown } | null)?.reason;
  if (reason === 'command_not_found') return 127;
  if (reason === 'command_not_executable') return 126;
  return 1;
}
