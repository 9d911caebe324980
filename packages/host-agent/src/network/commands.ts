// The `ip` and `nft` processes that build sandbox networks. Each process the agent starts is a fork of a
// ~200 MiB Node process (~10 ms of its CPU here, plus the child's), so a slot's setup runs as one shell
// script: `sh` forks the `ip`/`nft` processes, which is cheap from a small process.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AgentError } from '../errors.js';

const execFileAsync = promisify(execFile);
const END = 'AMBER_INPUT_END';

/** Runs `cmd` (no shell) with `input`, or nothing, on its stdin; its stdout, or an AgentError with its stderr. */
export async function run(cmd: string, args: string[], input?: string, what = `${cmd} ${args.join(' ')}`) {
  try {
    const child = execFileAsync(cmd, args);
    // end() with no data writes nothing, so a child that exits without reading is no EPIPE.
    if (input === undefined) child.child.stdin?.end();
    else child.child.stdin?.end(input);
    return (await child).stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new AgentError('internal', `${what} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
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
