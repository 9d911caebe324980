import { constants } from 'node:os';

/** A shell's convention: the exit code, or 128 + the signal's number when a signal ended the process. */
export function exitCodeOf(exit: { exitCode: number; signal: string | null }): number {
  if (exit.signal) {
    const n = (constants.signals as Record<string, number | undefined>)[exit.signal];
    return 128 + (n ?? 0);
  }
  return exit.exitCode;
}
