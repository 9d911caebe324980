import { closeSync, statSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import type { ProcessConfig } from '@amber/proto/process';
import { type ProcessExit, processStatus } from '@amber/proto/process-status';
import { Code, ConnectError } from '@connectrpc/connect';
import type { EnvdContext } from './context.js';
import { fsError } from './fs-errors.js';
import { type GuestChild, spawnGuestChild } from './guest-child.js';
import { resolveUserPath } from './paths.js';
import type { GuestUser } from './users.js';

/** What a running process reports; mirrors envd's ProcessEvent without the protobuf wrapping. */
export type ProcessOutput =
  | { kind: 'stdout' | 'stderr' | 'pty'; data: Uint8Array }
  | { kind: 'end'; exitCode: number; exited: boolean; status: string; error?: string };

export interface ManagedProcess {
  pid: number;
  tag?: string;
  config: ProcessConfig;
  child: GuestChild;
  /** The terminal's master side, for PTY processes. */
  pty?: { fd: number; stream: ReadStream };
  /** Every listener gets each event from the moment it subscribes (Start and Connect streams). */
  listeners: Set<(event: ProcessOutput) => void>;
}

export interface StartOptions {
  config: ProcessConfig;
  user: GuestUser;
  tag?: string;
  stdin: boolean;
  pty?: { cols: number; rows: number };
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/**
 * How long a process's remaining output may take to drain after it exits. Background children (`cmd &`)
 * may hold its terminal or pipes open for as long as they run; the command still ends with its own process.
 */
const OUTPUT_DRAIN_MS = 200;
/** For pipes, the drain lasts until they stay quiet that long, but never longer than this. */
const OUTPUT_DRAIN_MAX_MS = 2_000;

/**
 * The guest's table of processes started through envd. It lives in envd's memory, so a snapshot of the VM
 * keeps it: processes started before a pause are listed after the resume.
 */
export class ProcessTable {
  private readonly byPid = new Map<number, ManagedProcess>();

  constructor(private readonly ctx: EnvdContext) {}

  private environment(user: GuestUser, config: ProcessConfig, pty: boolean): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: process.env.PATH ?? DEFAULT_PATH,
      LANG: process.env.LANG ?? 'C.UTF-8',
      ...(pty && { TERM: 'xterm-256color' }),
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: user.shell,
      ...this.ctx.env,
      ...config.envs,
    };
  }

  private cwd(user: GuestUser, config: ProcessConfig): string {
    let cwd: string;
    try {
      cwd = resolveUserPath(config.cwd ?? '', user, this.ctx.defaultWorkdir);
    } catch (err) {
      throw fsError(err, 'cwd');
    }
    if (!statSync(cwd, { throwIfNoEntry: false })?.isDirectory())
      throw new ConnectError(`cwd '${cwd}' does not exist or is not a directory`, Code.InvalidArgument);
    return cwd;
  }

  start(options: StartOptions): ManagedProcess {
    const { config, user } = options;
    if (!config.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
    if (options.tag !== undefined && this.findByTag(options.tag)) {
      throw new ConnectError(`a process with tag "${options.tag}" is already running`, Code.AlreadyExists);
    }
    const cwd = this.cwd(user, config);
    const env = this.environment(user, config, options.pty !== undefined);
    const ids = user.uid !== process.getuid?.() ? { uid: user.uid, gid: user.gid } : {};
    let child: GuestChild;
    let pty: ManagedProcess['pty'];
    const native = this.ctx.native();
    if (options.pty) {
      // A terminal gets a session of its own with it as the controlling tty: job control, ^C, SIGWINCH.
      const { master, slave } = native.openPty(options.pty.cols, options.pty.rows);
      try {
        child = spawnGuestChild(native, config.cmd, config.args, { cwd, env, ...ids, terminal: slave });
      } finally {
        closeSync(slave);
      }
      pty = { fd: master, stream: new ReadStream(master) };
    } else {
      child = spawnGuestChild(native, config.cmd, config.args, { cwd, env, ...ids, stdin: options.stdin });
    }
    const listeners = new Set<(event: ProcessOutput) => void>();
    let ended = false;
    const emit = (event: ProcessOutput) => {
      // A failed spawn reports both 'error' and 'close'; the stream must end exactly once.
      if (ended) return;
      if (event.kind === 'end') ended = true;
      for (const listener of listeners) listener(event);
    };
    const managed: ManagedProcess = {
      pid: child.pid ?? 0,
      config,
      child,
      listeners,
      ...(pty && { pty }),
      ...(options.tag && { tag: options.tag }),
    };
    const end = (exit: ProcessExit) => {
      // Also called once a background child lets go of the pipes, when the pid may be another process's.
      if (this.byPid.get(managed.pid) === managed) this.byPid.delete(managed.pid);
      const status = processStatus(exit);
      // E2B's envd sends Go's exec error for any end but exit 0; the SDK makes it CommandExitError's message.
      const failed = exit.signal !== null || exit.code !== 0 ? { error: status } : {};
      emit(
        exit.signal !== null
          ? { kind: 'end', exitCode: -1, exited: false, status, ...failed }
          : { kind: 'end', exitCode: exit.code ?? -1, exited: true, status, ...failed },
      );
    };
    child.stdout?.on('data', (data: Buffer) => emit({ kind: 'stdout', data }));
    child.stderr?.on('data', (data: Buffer) => emit({ kind: 'stderr', data }));
    // Writing to a process that already exited is the client's race, not envd's failure.
    child.stdin?.on('error', () => undefined);
    child.on('error', (err) => {
      this.byPid.delete(managed.pid);
      pty?.stream.destroy();
      emit({ kind: 'end', exitCode: -1, exited: false, status: 'error', error: err.message });
    });
    if (pty) {
      const { stream } = pty;
      let drained = false;
      stream.on('data', (data: Buffer) => emit({ kind: 'pty', data }));
      // EIO: every slave fd closed — the terminal's output is complete.
      stream.on('error', () => undefined);
      stream.once('close', () => {
        drained = true;
      });
      child.once('exit', (_code, _signal, exit: ProcessExit) => {
        const finish = () => {
          stream.destroy();
          end(exit);
        };
        if (drained) finish();
        else {
          // Background children may hold the terminal open: wait briefly for the output, then hang up.
          const timer = setTimeout(finish, OUTPUT_DRAIN_MS);
          stream.once('close', () => {
            clearTimeout(timer);
            finish();
          });
        }
      });
    } else {
      // 'close' also waits for stdout and stderr to end. As in E2B's envd, the command ends with its process;
      // what a background child writes later is read and dropped, so it never meets a closed pipe.
      child.once('exit', (_code, _signal, exit: ProcessExit) => {
        // What the process wrote before it exited may still be in the pipes: the end waits until they have
        // been quiet for a moment (an event loop slowed by emulation must not cut it short).
        let quiet = setTimeout(finish, OUTPUT_DRAIN_MS);
        const cap = setTimeout(finish, OUTPUT_DRAIN_MAX_MS);
        const stillWriting = () => {
          clearTimeout(quiet);
          quiet = setTimeout(finish, OUTPUT_DRAIN_MS);
        };
        child.stdout?.on('data', stillWriting);
        child.stderr?.on('data', stillWriting);
        child.once('close', finish);
        function finish() {
          clearTimeout(quiet);
          clearTimeout(cap);
          child.stdout?.off('data', stillWriting);
          child.stderr?.off('data', stillWriting);
          end(exit);
        }
      });
    }
    if (child.pid !== undefined) this.byPid.set(child.pid, managed);
    return managed;
  }

  list(): ManagedProcess[] {
    return [...this.byPid.values()];
  }

  find(
    selector: { case: 'pid'; value: number } | { case: 'tag'; value: string } | { case: undefined },
  ): ManagedProcess {
    const found =
      selector.case === 'pid'
        ? this.byPid.get(selector.value)
        : selector.case === 'tag'
          ? this.findByTag(selector.value)
          : undefined;
    if (!found) {
      throw new ConnectError(
        selector.case
          ? `process with ${selector.case} ${selector.value} not found`
          : 'no process selector given',
        selector.case ? Code.NotFound : Code.InvalidArgument,
      );
    }
    return found;
  }

  private findByTag(tag: string): ManagedProcess | undefined {
    for (const p of this.byPid.values()) if (p.tag === tag) return p;
    return undefined;
  }
}
