import { commandEnd } from '@amber/host-agent';
import { Signal } from '@amber/proto/process';
import { ApiError } from '../errors.js';
import { envdClients } from '../tunnel/envd-clients.js';
import { envdCall } from './agent-errors.js';

export interface EnvdRun {
  argv: string[];
  envs: Record<string, string>;
  cwd?: string;
  user: string;
  stdin?: string;
  timeoutSec?: number;
  maxOutputBytes: number;
}

export interface EnvdRunResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  signal: string | null;
}

/**
 * A command as a named guest user, straight through envd's Process service over the agent's guest tunnel
 * (the agent's Exec has no user): stdin written and closed, output collected until the process ends.
 */
export async function runViaEnvd(
  tunnelPath: string,
  sandboxId: string,
  run: EnvdRun,
): Promise<EnvdRunResult> {
  const { process } = envdClients(tunnelPath, sandboxId, run.user);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const sizes = { stdout: 0, stderr: 0 };
  let exitCode: number | undefined;
  let signal: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  await envdCall(async () => {
    const events = process.start({
      process: {
        cmd: run.argv[0] as string,
        args: run.argv.slice(1),
        envs: run.envs,
        ...(run.cwd && { cwd: run.cwd }),
      },
      stdin: run.stdin !== undefined,
    });
    for await (const res of events) {
      const event = res.event?.event;
      if (event?.case === 'start') {
        const selector = { selector: { case: 'pid' as const, value: event.value.pid } };
        if (run.timeoutSec) {
          timer = setTimeout(
            () =>
              void process.sendSignal({ process: selector, signal: Signal.SIGKILL }).catch(() => undefined),
            run.timeoutSec * 1000,
          );
        }
        if (run.stdin !== undefined) {
          await process.sendInput({
            process: selector,
            input: { input: { case: 'stdin', value: Buffer.from(run.stdin) } },
          });
          await process.closeStdin({ process: selector });
        }
      } else if (event?.case === 'data') {
        const output = event.value.output;
        if (output.case === 'stdout' || output.case === 'stderr') {
          sizes[output.case] += output.value.byteLength;
          if (sizes[output.case] > run.maxOutputBytes) {
            throw new ApiError(
              'payload_too_large',
              `${output.case} exceeded ${run.maxOutputBytes} bytes; use the exec stream`,
            );
          }
          (output.case === 'stdout' ? stdout : stderr).push(Buffer.from(output.value));
        }
      } else if (event?.case === 'end') {
        // As the host agent's exec says it: an error, not an exit with a made-up signal.
        const end = commandEnd(event.value);
        if ('notStarted' in end)
          throw new ApiError('invalid_state', `cannot run ${run.argv[0]}: ${end.notStarted}`, {
            reason: end.reason,
          });
        ({ exitCode, signal } = end);
      }
    }
  }).finally(() => clearTimeout(timer));
  if (exitCode === undefined) throw new ApiError('internal', 'the command ended without an exit status');
  return { exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), signal };
}
