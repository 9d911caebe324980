// How a child process ended, as runCommand and spawnProcess report it.
import { constants } from 'node:os';

export interface ProcessExit {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal's name (`SIGKILL`), or null when it exited. */
  signal: NodeJS.Signals | null;
}

const signalNames = new Map(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** `SIGKILL` for 9; null for null (or a number this platform does not name). */
export function signalName(signal: number | null): NodeJS.Signals | null {
  return signal === null ? null : (signalNames.get(signal) ?? null);
}
