import { randomUUID } from 'node:crypto';
import type { FilesystemEvent, WatchDirResponse } from '@amber/proto/filesystem';
import { Code, ConnectError } from '@connectrpc/connect';
import { Channel } from './channel.js';
import type { EnvdContext } from './context.js';
import { DirWatch } from './dir-watch.js';
import { InotifyHub } from './inotify-hub.js';

const KEEPALIVE_MS = 30_000;
/** A polled watcher nobody drains stops collecting here rather than growing without bound. */
const MAX_PENDING_EVENTS = 100_000;

interface Watcher {
  watch: DirWatch;
  events: FilesystemEvent[];
}

/** WatchDir streams and the polled watchers (CreateWatcher / GetWatcherEvents / RemoveWatcher). */
export class WatchService {
  readonly #hub: InotifyHub;
  readonly #watchers = new Map<string, Watcher>();

  constructor(private readonly ctx: EnvdContext) {
    this.#hub = new InotifyHub(ctx);
  }

  async *stream(
    path: string,
    recursive: boolean,
    includeEntry: boolean,
    signal: AbortSignal,
  ): AsyncGenerator<WatchDirResponse> {
    const channel = new Channel<WatchDirResponse>();
    const watch = new DirWatch(this.ctx, this.#hub, path, {
      recursive,
      includeEntry,
      onEvent: (value) =>
        channel.push({ $typeName: 'filesystem.WatchDirResponse', event: { case: 'filesystem', value } }),
      onGone: () => channel.close(),
    });
    const keepalive = setInterval(
      () =>
        channel.push({
          $typeName: 'filesystem.WatchDirResponse',
          event: { case: 'keepalive', value: { $typeName: 'filesystem.WatchDirResponse.KeepAlive' } },
        }),
      KEEPALIVE_MS,
    );
    const onAbort = () => channel.close();
    signal.addEventListener('abort', onAbort);
    try {
      yield {
        $typeName: 'filesystem.WatchDirResponse',
        event: { case: 'start', value: { $typeName: 'filesystem.WatchDirResponse.StartEvent' } },
      };
      yield* channel;
    } finally {
      clearInterval(keepalive);
      signal.removeEventListener('abort', onAbort);
      watch.close();
    }
  }

  create(path: string, recursive: boolean, includeEntry: boolean): string {
    const id = randomUUID();
    const events: FilesystemEvent[] = [];
    const watch = new DirWatch(this.ctx, this.#hub, path, {
      recursive,
      includeEntry,
      onEvent: (event) => {
        if (events.length < MAX_PENDING_EVENTS) events.push(event);
      },
      onGone: () => undefined,
    });
    this.#watchers.set(id, { watch, events });
    return id;
  }

  #get(id: string): Watcher {
    const watcher = this.#watchers.get(id);
    if (!watcher) throw new ConnectError(`watcher ${JSON.stringify(id)} not found`, Code.NotFound);
    return watcher;
  }

  drain(id: string): FilesystemEvent[] {
    const watcher = this.#get(id);
    return watcher.events.splice(0);
  }

  remove(id: string): void {
    this.#get(id).watch.close();
    this.#watchers.delete(id);
  }
}
