// `amber exec <id> -- <cmd...>`: output streamed as it comes, stdin forwarded when it is not a terminal,
// Ctrl-C forwarded as SIGTERM (twice: SIGKILL), and the command's exit code becomes amber's.
import { type ExecStream, Sandbox } from '@amber/sdk';
import type { Command } from 'commander';
import { exitCodeOf } from './exit-code.js';
import { collectPair, positiveInt } from './output.js';

/** Stop reading local input while this much is still queued on the socket. */
const MAX_BUFFERED = 1 << 20;

export function commandArgs(args: string[]): string[] {
  const cmd = args[0] === '--' ? args.slice(1) : args;
  if (cmd.length === 0) throw new Error('no command: amber exec <id> -- <cmd> [args...]');
  return cmd;
}

async function forwardStdin(proc: ExecStream): Promise<void> {
  for await (const chunk of process.stdin) {
    proc.sendStdin(chunk as Buffer);
    while (proc.bufferedAmount > MAX_BUFFERED) await new Promise((r) => setTimeout(r, 10));
  }
  proc.closeStdin();
}

export async function writeOut(stream: NodeJS.WriteStream, data: Uint8Array): Promise<void> {
  if (!stream.write(data)) await new Promise<void>((r) => stream.once('drain', () => r()));
}

interface ExecFlags {
  cwd?: string;
  env?: Record<string, string>;
  user?: string;
  timeout?: number;
}

export function registerExecCommand(program: Command): void {
  program
    .command('exec <id> <cmd...>')
    .description('run a command in a sandbox, streaming its output; exits with its exit code')
    .usage('[options] <id> -- <cmd> [args...]')
    // Everything after <id> belongs to the command, its own flags included.
    .passThroughOptions()
    .option('--cwd <dir>', 'working directory')
    .option('-e, --env <KEY=value>', 'environment variable (repeatable)', collectPair)
    .option('-u, --user <name>', 'run as this guest user')
    .option('--timeout <sec>', 'kill the command after this long', positiveInt)
    .action(async (id: string, args: string[], f: ExecFlags) => {
      const sb = await Sandbox.get(id);
      const proc = await sb.execStream(commandArgs(args), {
        ...(f.cwd && { cwd: f.cwd }),
        ...(f.env && { envs: f.env }),
        ...(f.user && { user: f.user }),
        ...(f.timeout && { timeoutSec: f.timeout }),
      });
      let interrupts = 0;
      const onSigint = () => proc.signal(interrupts++ === 0 ? 'SIGTERM' : 'SIGKILL');
      process.on('SIGINT', onSigint);
      // A terminal is a person typing, not input for the command: like `docker exec` without -i.
      if (process.stdin.isTTY) proc.closeStdin();
      else forwardStdin(proc).catch(() => proc.closeStdin());
      try {
        for await (const out of proc) {
          await writeOut(out.stream === 'stdout' ? process.stdout : process.stderr, out.data);
        }
        process.exitCode = exitCodeOf(await proc.wait());
      } finally {
        process.off('SIGINT', onSigint);
        process.stdin.destroy();
      }
    });
}
