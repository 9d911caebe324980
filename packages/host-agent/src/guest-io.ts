// Commands and files in a running sandbox's guest, through its envd; errors become AgentErrors.
import { type ExecEvent, fromEnvdError } from './envd/envd-client.js';
import { AgentError } from './errors.js';
import type { SandboxRuntime } from './sandbox.js';
import { validateGuestPath } from './validate.js';

export interface ExecInput {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Runs a command to its end; past `timeoutMs` it is killed (SIGKILL), and it ends with its VM. */
export async function* execInGuest(runtime: SandboxRuntime, input: ExecInput): AsyncGenerator<ExecEvent> {
  if (!input.cmd) throw new AgentError('invalid_argument', 'cmd is required');
  const timeout = input.timeoutMs ? AbortSignal.timeout(input.timeoutMs) : undefined;
  let pid: number | undefined;
  const killOnTimeout = () => {
    if (pid !== undefined) {
      void runtime.envd.process
        .sendSignal({ process: { selector: { case: 'pid', value: pid } }, signal: 9 })
        .catch(() => undefined);
    }
  };
  timeout?.addEventListener('abort', killOnTimeout);
  try {
    // A command ends with its VM: a stream to a guest that died would otherwise wait forever.
    const gone = runtime.gone.signal;
    const signal = input.signal ? AbortSignal.any([input.signal, gone]) : gone;
    const events = runtime.envd.exec({ ...input, signal });
    for await (const event of events) {
      if (event.pid !== undefined) pid = event.pid;
      yield event;
    }
  } catch (err) {
    throw fromEnvdError(err);
  } finally {
    timeout?.removeEventListener('abort', killOnTimeout);
  }
}

export function writeGuestFile(
  runtime: SandboxRuntime,
  path: string,
  chunks: AsyncIterable<Uint8Array>,
): Promise<number> {
  return runtime.envd.writeFile(validateGuestPath(path), chunks).catch((err) => {
    throw fromEnvdError(err);
  });
}

export async function* readGuestFile(runtime: SandboxRuntime, path: string): AsyncGenerator<Uint8Array> {
  try {
    yield* runtime.envd.readFile(validateGuestPath(path));
  } catch (err) {
    throw fromEnvdError(err);
  }
}
