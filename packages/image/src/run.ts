import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { ImageError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Feed this file to stdin; otherwise stdin is closed. */
  stdinFile?: string;
  /** Write stdout to this file instead of capturing it. */
  stdoutFile?: string;
}

/** Runs a build tool; on failure the error carries the tail of its stderr so the cause is visible. */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: [options.stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (options.stdinFile && child.stdin) createReadStream(options.stdinFile).pipe(child.stdin);
  const out: Buffer[] = [];
  let stderrTail = '';
  const stdoutDone = options.stdoutFile
    ? new Promise<void>((resolve, reject) => {
        const file = createWriteStream(options.stdoutFile as string);
        child.stdout?.pipe(file);
        file.on('finish', resolve);
        file.on('error', reject);
      })
    : Promise.resolve();
  if (!options.stdoutFile) child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => {
    stderrTail = (stderrTail + c.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new ImageError('missing_tool', `${cmd} is not installed (run scripts/install.sh)`, { cause: e })
          : e,
      ),
    );
    child.on('close', resolve);
  });
  await stdoutDone;
  if (code !== 0) {
    throw new ImageError(
      'command_failed',
      `${cmd} ${args.join(' ')} exited with ${code}:\n${stderrTail.trim()}`,
    );
  }
  return Buffer.concat(out).toString();
}
