// Short helper programs (ip, nft, sh) run without forking the caller: see csrc/run-command.cc for why.
import { constants } from 'node:os';
import { binding } from './binding.js';

export interface CommandResult {
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal's name (`SIGKILL`), or null when it exited. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const signalNames = new Map(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** `SIGKILL` for 9; null for null (or a number this platform does not name). */
export function signalName(signal: number | null): NodeJS.Signals | null {
  return signal === null ? null : (signalNames.get(signal) ?? null);
}

/**
 * Runs `file` (looked up in PATH) with `args` and `input` on its stdin, in this process's environment,
 * and resolves when it has exited and closed its output. Rejects (an Error whose `code` is the errno's
 * name, e.g. ENOENT) only when it could not be started; a failing exit is the caller's to judge.
 */
export async function runCommand(file: string, args: string[], input = ''): Promise<CommandResult> {
  const raw = await binding.runCommand(file, args, input);
  return {
    code: raw.code,
    signal: signalName(raw.signal),
    stdout: raw.stdout,
    stderr: raw.stderr,
  };
}
