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
