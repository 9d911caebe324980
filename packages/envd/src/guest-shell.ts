// A shell started once and kept: commands envd runs for itself (sync before a snapshot) go through it
// instead of a fresh spawn. Forking the big node process is slow under emulation and copies pages that
// then show up as written in the next snapshot diff; busybox runs `sync` in-process and forks only a tiny
// shell for the rest.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

const BUSYBOX = '/opt/amber/busybox';
const DONE = '__amber_done';

export class GuestShell {
  #child: ChildProcessWithoutNullStreams | undefined;
  #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  /** Runs `command` (a shell line) after the ones before it; resolves with its output, rejects on failure. */
  run(command: string): Promise<string> {
    const result = this.#queue.then(() => this.#runNow(command));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #runNow(command: string): Promise<string> {
    const child = this.#ensure();
    const output: string[] = [];
    child.stdin.write(`${command} 2>&1; echo "${DONE} $?"\n`);
    for (;;) {
      const line = this.#lines.shift();
      if (line === undefined) {
        await new Promise<void>((resolve) => {
          this.#waiter = resolve;
        });
        continue;
      }
      if (!line.startsWith(DONE)) {
        output.push(line);
        continue;
      }
      const status = Number(line.slice(DONE.length + 1));
      if (status !== 0) throw new Error(`${command} exited with ${status}: ${output.join('\n')}`);
      return output.join('\n');
    }
  }

  #ensure(): ChildProcessWithoutNullStreams {
    if (this.#child && this.#child.exitCode === null) return this.#child;
    const [file, args] = existsSync(BUSYBOX) ? [BUSYBOX, ['sh']] : ['/bin/sh', []];
    const child = spawn(file, args, { stdio: 'pipe' });
    this.#lines = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.#lines.push(line);
      this.#waiter?.();
    });
    child.once('exit', () => {
      this.#lines.push(`${DONE} 255`);
      this.#waiter?.();
    });
    this.#child = child;
    return child;
  }

  close(): void {
    this.#child?.kill();
  }
}
