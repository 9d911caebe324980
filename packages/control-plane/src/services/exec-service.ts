import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import { agentCall } from './agent-errors.js';
import type { AgentLink } from './agent-link.js';
import { type EnvdRunResult, runViaEnvd } from './envd-exec.js';
import type { SandboxService } from './sandbox-service.js';

export interface ExecInput {
  cmd?: string[];
  command?: string;
  envs?: Record<string, string>;
  cwd?: string;
  user?: string;
  timeoutSec?: number;
  stdin?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  encoding: 'utf8' | 'base64';
  durationMs: number;
  signal: string | null;
}

function toResult(run: EnvdRunResult, started: number): ExecResult {
  const utf8 = isUtf8(run.stdout) && isUtf8(run.stderr);
  return {
    exitCode: run.exitCode,
    stdout: run.stdout.toString(utf8 ? 'utf8' : 'base64'),
    stderr: run.stderr.toString(utf8 ? 'utf8' : 'base64'),
    encoding: utf8 ? 'utf8' : 'base64',
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    signal: run.signal,
  };
}

/** Output kept per stream; beyond it the command fails rather than the control plane's memory. */
export const MAX_OUTPUT_BYTES = 32 * 1024 * 1024;
export const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** argv for a command given as an argv list or a shell string. */
export function argvOf(input: { cmd?: string[]; command?: string }): string[] {
  if ((input.cmd === undefined) === (input.command === undefined)) {
    throw new ApiError(
      'invalid_argument',
      'give exactly one of cmd (an argv list) or command (a shell string)',
    );
  }
  const argv = input.cmd ?? ['/bin/sh', '-c', input.command as string];
  if (argv.length === 0 || argv[0] === '') throw new ApiError('invalid_argument', 'cmd must name a program');
  return argv;
}

/**
 * One-shot commands, output collected: through the host agent's Exec (its fastest path), or, when a user
 * is named, through envd over the guest tunnel (envd picks the user; the agent's Exec cannot).
 */
export class ExecService {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly agent: AgentLink,
  ) {}

  async run(teamId: string, sandboxId: string, input: ExecInput): Promise<ExecResult> {
    let argv = argvOf(input);
    if (input.user !== undefined && !USER_PATTERN.test(input.user)) {
      throw new ApiError('invalid_argument', `invalid user name ${JSON.stringify(input.user)}`);
    }
    return this.sandboxes.use(teamId, sandboxId, async (row) => {
      const started = performance.now();
      if (input.user !== undefined) {
        const result = await runViaEnvd(this.agent.tunnelPath, sandboxId, {
          argv,
          envs: { ...(JSON.parse(row.envs) as Record<string, string>), ...input.envs },
          user: input.user,
          maxOutputBytes: MAX_OUTPUT_BYTES,
          ...(input.cwd && { cwd: input.cwd }),
          ...(input.stdin !== undefined && { stdin: input.stdin }),
          ...(input.timeoutSec && { timeoutSec: input.timeoutSec }),
        });
        return toResult(result, started);
      }
      let stdinFile: string | undefined;
      if (input.stdin !== undefined) {
        // The agent's Exec has no stdin: the input goes to a file the command reads, removed after.
        stdinFile = `/tmp/.amber-stdin-${randomBytes(8).toString('hex')}`;
        await this.writeStdin(sandboxId, stdinFile, input.stdin);
        argv = [
          '/bin/sh',
          '-c',
          'f=$1; shift; "$@" < "$f"; s=$?; rm -f "$f"; exit $s',
          'sh',
          stdinFile,
          ...argv,
        ];
      }
      const envs = { ...(JSON.parse(row.envs) as Record<string, string>), ...input.envs };
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let sizes = [0, 0];
      let exitCode: number | undefined;
      let signal: string | null = null;
      await agentCall(async () => {
        for await (const res of this.agent.client.exec({
          sandboxId,
          cmd: argv[0] as string,
          args: argv.slice(1),
          envs,
          cwd: input.cwd ?? '',
          timeoutMs: (input.timeoutSec ?? 0) * 1000,
        })) {
          const event = res.event;
          if (event.case === 'stdout' || event.case === 'stderr') {
            const index = event.case === 'stdout' ? 0 : 1;
            sizes = sizes.map((n, i) => (i === index ? n + event.value.byteLength : n));
            if ((sizes[index] ?? 0) > MAX_OUTPUT_BYTES) {
              throw new ApiError(
                'payload_too_large',
                `${event.case} exceeded ${MAX_OUTPUT_BYTES} bytes; use the exec stream`,
              );
            }
            (index === 0 ? stdout : stderr).push(Buffer.from(event.value));
          } else if (event.case === 'exit') {
            exitCode = event.value.exitCode;
            signal = event.value.signal || null;
          }
        }
      });
      if (exitCode === undefined) throw new ApiError('internal', 'the command ended without an exit status');
      return toResult(
        { exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), signal },
        started,
      );
    });
  }

  private async writeStdin(sandboxId: string, path: string, text: string): Promise<void> {
    await agentCall(() =>
      this.agent.client.writeFile(
        (async function* () {
          yield { part: { case: 'header' as const, value: { sandboxId, path } } };
          yield { part: { case: 'data' as const, value: Buffer.from(text) } };
        })(),
      ),
    );
  }
}
