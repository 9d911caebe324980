import { Inotify, type InotifyEvent } from '@amber/native/guest';
import type { EnvdContext } from './context.js';

export const WATCH_MASK =
  Inotify.CREATE |
  Inotify.MODIFY |
  Inotify.DELETE |
  Inotify.MOVED_FROM |
  Inotify.MOVED_TO |
  Inotify.ATTRIB |
  Inotify.DELETE_SELF |
  Inotify.ONLYDIR |
  Inotify.EXCL_UNLINK;

type Listener = (event: InotifyEvent) => void;

/**
 * One inotify instance for all of envd's watches. The kernel gives one watch descriptor per directory
 * per instance, so two clients watching the same directory share it: it is counted and removed with its
 * last user. A single blocking read runs on a worker thread while any watch exists; removing the last one
 * queues IN_IGNORED, which ends that read.
 */
export class InotifyHub {
  #fd: number | undefined;
  readonly #listeners = new Map<number, Set<Listener>>();
  #reading = false;

  constructor(private readonly ctx: EnvdContext) {}

  add(path: string, listener: Listener): number {
    const native = this.ctx.native();
    this.#fd ??= native.inotifyInit();
    const wd = native.inotifyAddWatch(this.#fd, path, WATCH_MASK);
    let set = this.#listeners.get(wd);
    if (!set) {
      set = new Set();
      this.#listeners.set(wd, set);
    }
    set.add(listener);
    this.#read();
    return wd;
  }

  release(wd: number, listener: Listener): void {
    const set = this.#listeners.get(wd);
    if (!set?.delete(listener) || set.size > 0) return;
    this.#listeners.delete(wd);
    if (this.#fd !== undefined) this.ctx.native().inotifyRmWatch(this.#fd, wd);
  }

  #read(): void {
    if (this.#reading || this.#fd === undefined) return;
    this.#reading = true;
    const fd = this.#fd;
    const loop = async () => {
      while (this.#listeners.size > 0) {
        let events: InotifyEvent[];
        try {
          events = await this.ctx.native().inotifyRead(fd);
        } catch (err) {
          process.stderr.write(`envd: inotify read failed: ${(err as Error).message}\n`);
          break;
        }
        for (const event of events) {
          const set = this.#listeners.get(event.wd);
          if (set) for (const listener of [...set]) listener(event);
          if (event.mask & Inotify.IGNORED) this.#listeners.delete(event.wd);
        }
      }
      this.#reading = false;
      // A watch added while the last read was finishing needs a reader again.
      if (this.#listeners.size > 0) this.#read();
    };
    void loop();
  }
}
