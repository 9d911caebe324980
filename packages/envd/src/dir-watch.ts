import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Inotify, type InotifyEvent } from '@amber/native/guest';
import { EventType, type FilesystemEvent, FilesystemEventSchema } from '@amber/proto/filesystem';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { EnvdContext } from './context.js';
import { entryInfo } from './entry-info.js';
import { fsError } from './fs-errors.js';
import type { InotifyHub } from './inotify-hub.js';

/** inotify's event -> E2B's (fsnotify's mapping: a move's destination is a create, its source a rename). */
function eventType(mask: number): EventType | undefined {
  if (mask & Inotify.CREATE || mask & Inotify.MOVED_TO) return EventType.CREATE;
  if (mask & Inotify.MODIFY) return EventType.WRITE;
  if (mask & Inotify.DELETE) return EventType.REMOVE;
  if (mask & Inotify.MOVED_FROM) return EventType.RENAME;
  if (mask & Inotify.ATTRIB) return EventType.CHMOD;
  return undefined;
}

export interface DirWatchOptions {
  recursive: boolean;
  includeEntry: boolean;
  onEvent: (event: FilesystemEvent) => void;
  /** The watched directory itself went away: the watch has ended. */
  onGone: () => void;
}

/** Watches one directory (and, when recursive, every directory below it, added as they appear). */
export class DirWatch {
  /** watch descriptor -> directory relative to the root ('' for the root). */
  readonly #dirs = new Map<number, string>();
  readonly #listener = (event: InotifyEvent) => this.#handle(event);
  #rootWd = -1;
  #closed = false;

  constructor(
    private readonly ctx: EnvdContext,
    private readonly hub: InotifyHub,
    readonly root: string,
    private readonly options: DirWatchOptions,
  ) {
    const info = statSync(root, { throwIfNoEntry: false });
    if (!info) throw new ConnectError(`path not found: ${root}`, Code.NotFound);
    if (!info.isDirectory()) throw new ConnectError(`path is not a directory: ${root}`, Code.InvalidArgument);
    try {
      this.#rootWd = this.#add('');
    } catch (err) {
      this.close();
      throw fsError(err, `cannot watch ${root}`);
    }
  }

  #add(rel: string): number {
    const dir = rel ? join(this.root, rel) : this.root;
    const wd = this.hub.add(dir, this.#listener);
    this.#dirs.set(wd, rel);
    if (this.options.recursive) {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) this.#add(rel ? `${rel}/${entry.name}` : entry.name);
      }
    }
    return wd;
  }

  #handle(event: InotifyEvent): void {
    if (this.#closed) return;
    const rel = this.#dirs.get(event.wd);
    if (rel === undefined) return;
    if (event.mask & Inotify.IGNORED || event.mask & Inotify.DELETE_SELF) {
      this.#dirs.delete(event.wd);
      if (event.wd === this.#rootWd) {
        this.close();
        this.options.onGone();
      }
      return;
    }
    if (!event.name) return;
    const name = rel ? `${rel}/${event.name}` : event.name;
    const isDir = (event.mask & Inotify.ISDIR) !== 0;
    if (this.options.recursive && isDir) {
      if (event.mask & (Inotify.CREATE | Inotify.MOVED_TO)) {
        try {
          this.#add(name);
        } catch {
          // gone again before the watch was added; its removal event follows
        }
      } else if (event.mask & Inotify.MOVED_FROM) {
        this.#drop(name);
      }
    }
    const type = eventType(event.mask);
    if (type === undefined) return;
    let entry: ReturnType<typeof entryInfo> | undefined;
    if (this.options.includeEntry && type !== EventType.REMOVE && type !== EventType.RENAME) {
      const path = join(this.root, name);
      if (lstatSync(path, { throwIfNoEntry: false })) {
        try {
          entry = entryInfo(this.ctx, path);
        } catch {
          // removed between the event and the stat
        }
      }
    }
    this.options.onEvent(create(FilesystemEventSchema, { name, type, ...(entry && { entry }) }));
  }

  /** Stops watching a subtree that moved away (its descriptors would report under a stale name). */
  #drop(rel: string): void {
    for (const [wd, dir] of this.#dirs) {
      if (dir === rel || dir.startsWith(`${rel}/`)) {
        this.#dirs.delete(wd);
        this.hub.release(wd, this.#listener);
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const wd of this.#dirs.keys()) this.hub.release(wd, this.#listener);
    this.#dirs.clear();
  }
}
