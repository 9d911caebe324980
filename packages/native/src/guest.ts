// The guest agent's addon (amber_guest.node, csrc/guest): pseudo-terminals, extended attributes, inotify
// and the wall clock. It is loaded by path because envd runs as one bundled CommonJS file inside the VM,
// where the addon sits beside it (/opt/amber), while tests on the host load it from this package's build.

/** The raw addon; the envd package wraps it. */
export interface GuestBinding {
  openPty(cols: number, rows: number): { master: number; slave: number; name: string };
  setWinsize(fd: number, cols: number, rows: number): void;
  getWinsize(fd: number): { cols: number; rows: number };
  listXattrs(path: string, prefix: string): Record<string, string>;
  /**
   * lstat, readlink and the `prefix`ed xattrs of `names` inside `dir`, in one call: `stats` holds
   * [mode, uid, gid, size, mtimeMs] per name (mode -1 when the entry is gone); `targets` and `metadata`
   * are keyed by the name's index and hold only symlinks and entries that have such attributes.
   */
  statEntries(dir: string, names: string[], prefix: string): DirEntryStats;
  setXattr(path: string, name: string, value: string): void;
  removeXattr(path: string, name: string): void;
  inotifyInit(): number;
  inotifyAddWatch(fd: number, path: string, mask: number): number;
  inotifyRmWatch(fd: number, wd: number): void;
  /**
   * One blocking read on a libuv worker thread; resolves with the events it returned, or with none once
   * `cancelFd` (from cancelCreate) has been signalled.
   */
  inotifyRead(fd: number, cancelFd: number): Promise<InotifyEvent[]>;
  cancelCreate(): number;
  cancelSignal(fd: number): void;
  /** clock_settime(CLOCK_REALTIME) to `epochUs` microseconds since 1970: root only, the guest's own clock. */
  setRealtimeClock(epochUs: number): void;
  /**
   * Serves envd's control channel on a duplicate of `fd` in a thread of its own (the caller stops reading
   * it): writes `output`, then answers the lines of `input` and of what follows. It answers `init` with no
   * more than a numeric `timestamp` (and a `token`) itself, then sets CLOCK_REALTIME if `setClock`; and
   * `sync` with the token (setControlToken; one envd per process) once sync(2) returns. Every other line
   * goes to `forward`, whose `send` writes the answer (once per line); `forward(null)`: the peer closed.
   */
  serveControl(
    fd: number,
    output: string,
    input: Buffer,
    setClock: boolean,
    forward: (line: string | null, send: (answer: string) => void) => void,
  ): void;
  /** The access token a control channel's `sync` must carry; undefined: none is set. */
  setControlToken(token: string | undefined): void;
  /** A clock init's clock setting is under way on some channel. */
  clockPending(): boolean;
  /**
   * vfork + exec of `file` (searched in the child's PATH) with `args`, `env` (`KEY=value`), `cwd`, and
   * uid/gid (-1: envd's). `stdio` are descriptors >= 3 that become 0-2; `session` gives it a session of
   * its own, `controllingTty` makes its stdin terminal the session's. Throws with the errno's code (ENOENT,
   * EACCES, ...) when the program could not start. The pidfd is for watchExit.
   */
  spawnChild(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    uid: number,
    gid: number,
    stdio: [number, number, number],
    session: boolean,
    controllingTty: boolean,
  ): { pid: number; pidfd: number };
  /** A pipe, both ends close-on-exec: [read, write]. */
  openPipe(): [number, number];
  /**
   * Calls back once the child behind `pidfd` exits, with its exit code or the number of the signal that
   * ended it (and whether that dumped core), having reaped it and closed the pidfd; `error` is the
   * errno's name if waiting failed.
   */
  watchExit(
    pidfd: number,
    callback: (code: number | null, signal: number | null, error: string | null, coreDumped: boolean) => void,
  ): void;
}

export interface DirEntryStats {
  stats: Float64Array;
  targets: Record<number, string>;
  metadata: Record<number, Record<string, string>>;
}

export interface InotifyEvent {
  wd: number;
  mask: number;
  cookie: number;
  /** The entry's name inside the watched directory; empty for events on the directory itself. */
  name: string;
}

/** File name of the addon, in this package's build/Release and in the guest's /opt/amber. */
export const GUEST_ADDON_FILE = 'amber_guest.node';

/** inotify masks (linux/inotify.h). */
export const Inotify = {
  ACCESS: 0x1,
  MODIFY: 0x2,
  ATTRIB: 0x4,
  CLOSE_WRITE: 0x8,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  DELETE_SELF: 0x400,
  MOVE_SELF: 0x800,
  Q_OVERFLOW: 0x4000,
  IGNORED: 0x8000,
  ONLYDIR: 0x1000000,
  EXCL_UNLINK: 0x4000000,
  ISDIR: 0x40000000,
} as const;

const loaded = new Map<string, GuestBinding>();

/** Loads the addon at `path` once (process.dlopen works from ESM and from the CommonJS bundle alike). */
export function loadGuestBinding(path: string): GuestBinding {
  let binding = loaded.get(path);
  if (!binding) {
    const module = { exports: {} as GuestBinding };
    process.dlopen(module, path);
    binding = module.exports;
    loaded.set(path, binding);
  }
  return binding;
}
