// The host's processes, told apart by their command lines (read from /proc). A process that exits while
// it is looked at simply does not match.
import { readdir, readFile } from 'node:fs/promises';

/** `pid`'s command line, arguments separated by NUL; '' if it is gone. */
export async function commandLine(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
}

/** The processes whose command line `matches`. */
export async function pidsByCommandLine(matches: (cmdline: string) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry) && matches(await commandLine(Number(entry)))) pids.push(Number(entry));
  }
  return pids;
}
