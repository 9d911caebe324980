import { EventEmitter } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { GuestBinding } from '@amber/native/guest';
import type { ProcessExit } from '@amber/proto/process-status';

/**
 * A command started by the guest addon's vfork spawn, with the part of Node's ChildProcess that envd uses:
 * `pid`, the stdio streams, `kill`, and the 'exit', 'close' and 'error' events in Node's order. libuv
 * forks, which on an emulated CPU cost every command ~10 ms of copying and faulting envd's own memory.
 * 'exit' and 'close' carry a third argument Node's do not: the `ProcessExit`, with the signal's number
 * (a real-time signal has no name: "SIG34" in the second) and whether it dumped core.
 */
export interface GuestChild extends EventEmitter {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
}

export interface GuestSpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Pipes for stdout and stderr, and for stdin when `stdin` is set (else /dev/null). */
  stdin?: boolean;
  /** A terminal's slave side as stdin, stdout and stderr, and its controlling tty in a session of its own. */
  terminal?: number;
}

const signalNames = new Map<number, string>(
  Object.entries(constants.signals).map(([name, number]) => [number, name]),
);

class VforkChild extends EventEmitter implements GuestChild {
  pid: number | undefined;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  #exited = false;
  #openStreams = 0;
  #exit: [number | null, string | null, ProcessExit] = [null, null, { code: null, signal: null }];

  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    // Until the exit is reaped (on this thread) the pid cannot be another process's.
    if (this.pid === undefined || this.#exited) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Output streams end when every holder of the pipe has closed it: 'close' waits for them and the exit. */
  track(stream: Readable): Readable {
    this.#openStreams++;
    stream.once('close', () => {
      this.#openStreams--;
      this.#maybeClose();
    });
    return stream;
  }

  exited(exit: ProcessExit): void {
    this.#exited = true;
    const name = exit.signal === null ? null : (signalNames.get(exit.signal) ?? `SIG${exit.signal}`);
    this.#exit = [exit.code, name, exit];
    this.emit('exit', ...this.#exit);
    this.#maybeClose();
  }

  #maybeClose(): void {
    if (this.#exited && this.#openStreams === 0) this.emit('close', ...this.#exit);
  }
}

/** Starts `file` with `args`; a failure to start is an 'error' event (then 'close'), as with Node's spawn. */
export function spawnGuestChild(
  native: GuestBinding,
  file: string,
  args: string[],
  options: GuestSpawnOptions,
): GuestChild {
  const child = new VforkChild();
  const env = Object.entries(options.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  // Every descriptor opened here: the child's ends close once it has them, ours go to sockets.
  const childEnds: number[] = [];
  const ours: number[] = [];
  const pipe = (childReads: boolean) => {
    const [read, write] = native.openPipe();
    childEnds.push(childReads ? read : write);
    ours.push(childReads ? write : read);
    return childReads ? read : write;
  };
  const terminal = options.terminal;
  let started: { pid: number; pidfd: number };
  try {
    let stdio: [number, number, number];
    if (terminal !== undefined) stdio = [terminal, terminal, terminal];
    else {
      const input = options.stdin ? pipe(true) : openSync('/dev/null', 'r');
      if (!options.stdin) childEnds.push(input);
      stdio = [input, pipe(false), pipe(false)];
    }
    const session = terminal !== undefined;
    const { uid = -1, gid = -1 } = options;
    started = native.spawnChild(file, args, env, options.cwd, uid, gid, stdio, session, session);
  } catch (err) {
    for (const fd of [...childEnds, ...ours]) closeSync(fd);
    const failure = spawnError(err, file);
    process.nextTick(() => {
      child.emit('error', failure);
      child.emit('close', -1, null);
    });
    return child;
  }
  child.pid = started.pid;
  for (const fd of childEnds) closeSync(fd);
  if (terminal === undefined) {
    const [input, out, err] = options.stdin ? ours : [undefined, ...ours];
    if (input !== undefined) child.stdin = new Socket({ fd: input, readable: false, writable: true });
    child.stdout = child.track(new Socket({ fd: out, readable: true, writable: false }));
    child.stderr = child.track(new Socket({ fd: err, readable: true, writable: false }));
  }
  native.watchExit(started.pidfd, (code, signal, error, coreDumped) => {
    if (error) child.emit('error', new Error(`waiting for process ${started.pid}: ${error}`));
    child.exited({ code, signal, coreDumped });
  });
  return child;
}

/** Node's wording ("spawn ls ENOENT"), which clients have seen from envd until now. */
function spawnError(err: unknown, file: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (!code) return err as Error;
  return Object.assign(new Error(`spawn ${file} ${code}`), { code, syscall: `spawn ${file}`, path: file });
}
