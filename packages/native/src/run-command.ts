// Short helper programs (ip, nft, sh) run without forking the caller: see csrc/run-command.cc for why.
import { binding } from './binding.js';
import { type ProcessExit, signalName } from './process-exit.js';

export interface CommandResult extends ProcessExit {
  stdout: string;
  stderr: string;
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
