import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { listenUnix, type ProcessExit, type SpawnedProcess, shimEnv, spawnProcess } from '@amber/native';
import type { Logger } from 'pino';

import { type DiskImage, deviceNode, imageNode, imageNodeIndex, imageNodeName } from './disk-graph.js';
import { VmmError } from './errors.js';
import { fileTail } from './file-tail.js';
import { QmpClient, type QmpCommands } from './qmp-client.js';
import { type IdleOptions, waitVcpusIdle } from './vcpu-idle.js';
import { qemuArgs, runPaths, type VmSpec, validateSpec } from './vm-spec.js';

export interface LaunchOptions {
  log: Logger;
  qemuBinary?: string;
  /** How long QEMU may take to open its QMP socket. */
  startTimeoutMs?: number;
  /**
   * cgroup directories QEMU joins before it execs (so every page and thread it ever has is accounted
   * there): a shell writes its own pid to each `cgroup.procs`, then execs; the pid stays the same.
   */
  cgroups?: string[];
}

/** `sh -c` script: join each cgroup named before `--`, then exec what follows it. */
const JOIN_CGROUPS =
  'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"';

export type VmExit = ProcessExit;

const DEFAULT_QEMU = 'qemu-system-x86_64';

/**
 * One QEMU process and its QMP connection. QEMU is our child (so it is reaped the moment it dies) unless
 * the VM was adopted after an agent restart, in which case the QMP socket closing is the exit signal.
 * Emits 'exit' (VmExit) exactly once.
 */
export class Vm extends EventEmitter {
  private exitInfo?: VmExit;
  readonly exited: Promise<VmExit>;
  #spec: VmSpec;
  /** Image nodes created so far; the newest is the disk's top (disk-graph.ts). */
  #imageNodes = 1;

  private constructor(
    spec: VmSpec,
    readonly pid: number,
    readonly qmp: QmpClient,
    private readonly log: Logger,
    exit: Promise<VmExit>,
  ) {
    super();
    this.#spec = spec;
    this.exited = exit.then((info) => {
      this.exitInfo = info;
      this.qmp.close();
      this.log.info({ pid, ...info }, 'qemu exited');
      this.emit('exit', info);
      return info;
    });
  }

  /** The launch spec, with `disk` following the disk's current top image. */
  get spec(): VmSpec {
    return this.#spec;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  static async launch(spec: VmSpec, options: LaunchOptions): Promise<Vm> {
    validateSpec(spec);
    const paths = runPaths(spec.runDir);
    await mkdir(spec.runDir, { recursive: true });
    await claimSocketPath(paths.qmp);
    const qemu = options.qemuBinary ?? DEFAULT_QEMU;
    const args = qemuArgs(spec);
    const [direct, directArgv] = spec.network
      ? ['ip', ['netns', 'exec', spec.network.netns, qemu, ...args]]
      : [qemu, args];
    const [cmd, argv] = options.cgroups?.length
      ? ['sh', ['-c', JOIN_CGROUPS, 'sh', ...options.cgroups, '--', direct, ...directArgv]]
      : [direct, directArgv];
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (spec.uffd) Object.assign(env, shimEnv({ memPath: spec.memoryFile, ...spec.uffd }));
    // Through `ip netns exec` or the shell, a missing QEMU would look like their failure; check first.
    if (spec.network || options.cgroups?.length) await assertBinary(qemu);
    const log = options.log.child({ runDir: spec.runDir });
    // QMP's socket is bound here and QEMU inherits it listening: the connect below succeeds at once and its
    // greeting comes when QEMU is ready. Waiting for QEMU to bind the path took ~100 failed connects (each
    // a socket, an error and a timer) per launch on a busy host.
    const qmpListener = listenUnix(paths.qmp);
    let child: SpawnedProcess;
    try {
      // Not Node's spawn, which forks the agent (spawn-process.cc). QEMU leads a session of its own, so a
      // Ctrl-C aimed at the agent doesn't kill every VM; its output goes straight to qemu.log, which
      // outlives the agent.
      child = spawnProcess(cmd, argv, { env, outputPath: paths.qemuLog, fds: [qmpListener] });
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? new VmmError('qemu_not_found', `${cmd} not found; install QEMU (scripts/install.sh)`, {
            cause: err,
          })
        : new VmmError('qemu_start_failed', `cannot start ${cmd}: ${(err as Error).message}`, { cause: err });
    } finally {
      closeSync(qmpListener); // QEMU holds it now; when QEMU is gone, connects fail.
    }
    const { pid, exited } = child;
    let running = true;
    void exited.then(() => {
      running = false;
    });
    try {
      const qmp = await Promise.race([
        connectQmp(paths.qmp, options.startTimeoutMs ?? 10_000, exited),
        exited.then(async (exit) => {
          throw new VmmError(
            'qemu_exited',
            `QEMU exited during start (code ${exit.code}, signal ${exit.signal})`,
            {
              detail: await describeFailure(spec),
            },
          );
        }),
      ]);
      await writeFile(paths.pid, `${pid}\n`);
      log.info({ pid, accel: spec.accel, incoming: spec.incoming ?? false }, 'qemu started');
      return new Vm(spec, pid, qmp, log, exited);
    } catch (err) {
      if (running) process.kill(pid, 'SIGKILL');
      if (err instanceof VmmError && err.code !== 'qmp_timeout') throw err;
      throw new VmmError('qemu_start_failed', `QEMU did not come up: ${(err as Error).message}`, {
        cause: err,
        detail: await describeFailure(spec),
      });
    }
  }

  /**
   * Re-attaches to a QEMU left running by a previous agent (it is no longer our child). `spec` is how it was
   * launched; its disk is read back from QEMU (the top image node), since overlay switches change it.
   */
  static async adopt(spec: VmSpec, pid: number, options: { log: Logger }): Promise<Vm> {
    const qmp = await QmpClient.connect(runPaths(spec.runDir).qmp, 2000);
    try {
      const exited = new Promise<VmExit>((resolve) =>
        qmp.once('close', () => resolve({ code: null, signal: null })),
      );
      const top = topImageNode(await qmp.execute('query-named-block-nodes', { flat: true }));
      const vm = new Vm(
        top ? { ...spec, disk: top.disk } : spec,
        pid,
        qmp,
        options.log.child({ runDir: spec.runDir, adopted: true }),
        exited,
      );
      if (top) vm.#imageNodes = top.index + 1;
      return vm;
    } catch (err) {
      qmp.close();
      throw err;
    }
  }

  async status(): Promise<string> {
    return (await this.qmp.execute('query-status', {})).status;
  }

  /** True once the guest has gone idle (its vCPU threads sleep), false if it stays busy past `maxMs`. */
  waitIdle(options?: IdleOptions): Promise<boolean> {
    return waitVcpusIdle(this.pid, options);
  }

  /**
   * Puts the real disk under a VM launched with a placeholder (before its `migrate-incoming`): the image is
   * opened as a new node, the device's raw node is reopened onto it, the placeholder dropped.
   */
  async attachDisk(disk: DiskImage): Promise<void> {
    if (!('placeholderBytes' in this.#spec.disk))
      throw new VmmError('invalid_spec', 'attachDisk needs a VM launched with a placeholder disk');
    const previous = imageNodeName(this.#imageNodes - 1);
    const next = imageNodeName(this.#imageNodes);
    await this.qmp.execute('blockdev-add', imageNode(disk, next));
    this.#imageNodes += 1;
    await this.qmp.execute('blockdev-reopen', { options: [deviceNode(next)] });
    await this.qmp.execute('blockdev-del', { 'node-name': previous });
    this.#spec = { ...this.#spec, disk };
  }

  /**
   * Makes `overlayPath` (an existing qcow2 whose backing is the disk's current top layer) the VM's writable
   * disk, so the old top stays frozen exactly as it is now. The VM should be stopped.
   */
  async switchDiskOverlay(overlayPath: string): Promise<void> {
    const next = imageNodeName(this.#imageNodes);
    await this.qmp.execute('blockdev-snapshot-sync', {
      'node-name': imageNodeName(this.#imageNodes - 1),
      'snapshot-file': overlayPath,
      'snapshot-node-name': next,
      format: 'qcow2',
      mode: 'existing',
    });
    this.#imageNodes += 1;
    this.#spec = { ...this.#spec, disk: { path: overlayPath, format: 'qcow2' } };
  }

  async pause(): Promise<void> {
    await this.qmp.execute('stop', {});
  }

  async resume(): Promise<void> {
    await this.qmp.execute('cont', {});
  }

  /** Orderly stop through QMP, then SIGKILL if QEMU lingers. */
  async quit(timeoutMs = 3000): Promise<VmExit> {
    if (!this.running) return this.exited;
    await this.qmp.execute('quit', {}, timeoutMs).catch(() => undefined);
    const timer = setTimeout(() => this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<VmExit> {
    if (this.running) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    return this.exited;
  }

  consoleTail(bytes = 2000): Promise<string> {
    return fileTail(runPaths(this.spec.runDir).console, bytes);
  }
}

/** Removes a stale socket file, but refuses one that something still listens on. */
async function claimSocketPath(path: string): Promise<void> {
  const inUse = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (inUse) throw new VmmError('qemu_start_failed', `socket ${path} is in use by another process`);
  await rm(path, { force: true });
}

async function assertBinary(qemu: string): Promise<void> {
  if (qemu.includes('/')) {
    if (!(await stat(qemu).catch(() => undefined))) {
      throw new VmmError('qemu_not_found', `${qemu} not found; install QEMU (scripts/install.sh)`);
    }
    return;
  }
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && (await stat(`${dir}/${qemu}`).catch(() => undefined))) return;
  }
  throw new VmmError('qemu_not_found', `${qemu} not found in PATH; install QEMU (scripts/install.sh)`);
}

/**
 * QMP on the socket QEMU inherited. QEMU ending during start also fails the connect; then the exit (with
 * QEMU's log) is the error to report, so this leaves the race to the caller's exit branch.
 */
async function connectQmp(path: string, timeoutMs: number, exited: Promise<VmExit>): Promise<QmpClient> {
  try {
    return await QmpClient.connect(path, timeoutMs);
  } catch (err) {
    const gone = await Promise.race([exited, new Promise((r) => setTimeout(r, 2000, false))]);
    if (gone) return new Promise<never>(() => {});
    throw err;
  }
}

async function describeFailure(spec: VmSpec): Promise<string> {
  const paths = runPaths(spec.runDir);
  const [stderr, consoleText] = await Promise.all([fileTail(paths.qemuLog), fileTail(paths.console)]);
  const parts: string[] = [];
  if (stderr.trim()) parts.push(`--- qemu stderr (tail) ---\n${stderr.trim()}`);
  if (consoleText.trim()) parts.push(`--- guest console (tail) ---\n${consoleText.trim()}`);
  return parts.join('\n');
}

export { describeFailure };

/** The newest of the disk's image nodes (disk-graph.ts names them in order) and the image it opened. */
function topImageNode(
  nodes: QmpCommands['query-named-block-nodes']['ret'],
): { index: number; disk: DiskImage } | undefined {
  let top: { index: number; disk: DiskImage } | undefined;
  for (const node of nodes) {
    const index = imageNodeIndex(node['node-name']);
    if (index === undefined || (top && top.index > index) || !node.file) continue;
    if (node.drv !== 'qcow2' && node.drv !== 'raw') continue;
    top = { index, disk: { path: node.file, format: node.drv } };
  }
  return top;
}
