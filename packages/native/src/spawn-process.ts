// Long-lived programs (QEMU) started without forking the caller: see csrc/spawn-process.cc for why.
import { binding } from './binding.js';
import { type ProcessExit, signalName } from './process-exit.js';

export interface SpawnedProcess {
  pid: number;
  /** Settles once, when the process has ended (it is reaped then). */
  exited: Promise<ProcessExit>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  /** Its stdout and stderr, truncated first; stdin is /dev/null. */
  outputPath: string;
  /** Descriptors of this process the child gets as 3, 4, ... */
  fds?: number[];
}

/**
 * Starts `file` (looked up in PATH) in a session of its own. Throws (an Error whose `code` is the errno's
 * name, e.g. ENOENT) when it cannot start. Like a ChildProcess, a running child keeps Node's loop alive.
 */
export function spawnProcess(file: string, args: string[], options: SpawnOptions): SpawnedProcess {
  const env = Object.entries(options.env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `${key}=${value}`);
  let settle: (exit: ProcessExit) => void = () => {};
  const exited = new Promise<ProcessExit>((resolve) => {
    settle = resolve;
  });
  const pid = binding.spawnProcess(file, args, env, options.outputPath, options.fds ?? [], (code, signal) =>
    settle({ code, signal: signalName(signal) }),
  );
  return { pid, exited };
}
