// The processes the agent runs: `ip` and `nft` that build sandbox networks, `qemu-img` for disk layers.
// Node's child_process forks, copying the page tables of a ~160 MiB agent (13-15 ms of its CPU each here,
// plus the child's teardown of the copy, with the event loop stopped for the fork), so these start with
// posix_spawn (runCommand), whose cost does not grow with the agent. A slot's setup still runs as one
// shell script: one start instead of several.
import { runCommand } from '@amber/native';
import { AgentError } from './errors.js';

const END = 'AMBER_INPUT_END';

/** Runs `cmd` (no shell) with `input`, or nothing, on its stdin; its stdout, or an AgentError with its stderr. */
export async function run(cmd: string, args: string[], input?: string, what = `${cmd} ${args.join(' ')}`) {
  const failed = (why: string, cause?: unknown) =>
    new AgentError('internal', `${what} failed: ${why}`, cause === undefined ? undefined : { cause });
  const result = await runCommand(cmd, args, input).catch((err: Error) => {
    throw failed(err.message, err);
  });
  if (result.code === 0) return result.stdout;
  const status = result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
  throw failed(result.stderr.trim() || status);
}

/** Runs shell lines in one `sh`, stopping at the first that fails (its stderr is in the error's message). */
export async function runScript(what: string, lines: string[]): Promise<void> {
  await run('sh', ['-ec', lines.join('\n')], undefined, what);
}

/** A script line that runs `command` with `input` on its stdin (a quoted here-document: nothing expands). */
export function withInput(command: string, input: string): string {
  if (input.split('\n').includes(END)) throw new Error(`input may not contain the line ${END}`);
  return `${command} <<'${END}'\n${input}\n${END}`;
}
