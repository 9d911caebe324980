import { type ChildProcess, spawn } from 'node:child_process';
import type { ProcessConfig } from '@amber/proto/process';
import { Code, ConnectError } from '@connectrpc/connect';

/** What a running process reports; mirrors envd's ProcessEvent without the protobuf wrapping. */
export type ProcessOutput =
  | { kind: 'stdout'; data: Uint8Array }
  | { kind: 'stderr'; data: Uint8Array }
  | { kind: 'end'; exitCode: number; exited: boolean; status: string; error?: string };

export interface ManagedProcess {
  pid: number;
  tag?: string;
  config: ProcessConfig;
  child: ChildProcess;
  /** Every listener gets each event from the moment it subscribes (Start and Connect streams). */
  listeners: Set<(event: ProcessOutput) => void>;
}

export interface StartOptions {
  config: ProcessConfig;
  tag?: string;
  stdin: boolean;
}

/**
 * The guest's table of processes started through envd. It lives in envd's memory, so a snapshot of the VM
 * keeps it: processes started before a pause are listed after the resume.
 */
export class ProcessTable {
  private readonly byPid = new Map<number, ManagedProcess>();

  constructor(
    private readonly defaultCwd: () => string,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  start(options: StartOptions): ManagedProcess {
    const { config } = options;
    if (!config.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
    if (options.tag !== undefined && this.findByTag(options.tag)) {
      throw new ConnectError(`a process with tag "${options.tag}" is already running`, Code.AlreadyExists);
    }
    const child = spawn(config.cmd, config.args, {
      cwd: config.cwd || this.defaultCwd(),
      env: { ...process.env, ...this.extraEnv, ...config.envs },
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
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
      ...(options.tag && { tag: options.tag }),
    };
    child.stdout?.on('data', (data: Buffer) => emit({ kind: 'stdout', data }));
    child.stderr?.on('data', (data: Buffer) => emit({ kind: 'stderr', data }));
    child.on('error', (err) => {
      this.byPid.delete(managed.pid);
      emit({ kind: 'end', exitCode: -1, exited: false, status: 'error', error: err.message });
    });
    child.on('close', (code, signal) => {
      this.byPid.delete(managed.pid);
      emit(
        signal
          ? { kind: 'end', exitCode: -1, exited: false, status: `signal: ${signal}` }
          : { kind: 'end', exitCode: code ?? -1, exited: true, status: `exit status ${code}` },
      );
    });
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
        `process ${selector.case ? `${selector.case} ${selector.value}` : '(no selector)'} not found`,
        Code.NotFound,
      );
    }
    return found;
  }

  private findByTag(tag: string): ManagedProcess | undefined {
    for (const p of this.byPid.values()) if (p.tag === tag) return p;
    return undefined;
  }
}
