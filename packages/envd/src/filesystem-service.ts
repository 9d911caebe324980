import { lstatSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EntryInfo, Filesystem } from '@amber/proto/filesystem';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { rpcUser } from './auth.js';
import type { EnvdContext } from './context.js';
import { ensureDirs } from './ensure-dirs.js';
import { entryInfo } from './entry-info.js';
import { fsError } from './fs-errors.js';
import { resolveUserPath } from './paths.js';
import type { GuestUser } from './users.js';
import type { WatchService } from './watch-service.js';

function resolve(ctx: EnvdContext, user: GuestUser, path: string): string {
  try {
    return resolveUserPath(path, user, ctx.defaultWorkdir);
  } catch (err) {
    throw fsError(err, path);
  }
}

/** Depth-first, in name order, not following symlinks below the root (as E2B's walk). */
function walk(ctx: EnvdContext, dir: string, depth: number, out: EntryInfo[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw fsError(err, `cannot read directory ${dir}`);
  }
  for (const name of names) {
    const path = join(dir, name);
    let info: ReturnType<typeof lstatSync>;
    try {
      info = lstatSync(path);
    } catch {
      continue; // removed while listing
    }
    out.push(entryInfo(ctx, path, info));
    if (depth > 1 && info.isDirectory()) walk(ctx, path, depth - 1, out);
  }
}

export function filesystemService(
  ctx: EnvdContext,
  watches: WatchService,
): Partial<ServiceImpl<typeof Filesystem>> {
  const userOf = (hc: HandlerContext) => rpcUser(ctx, hc.requestHeader);
  return {
    stat(req, hc) {
      const path = resolve(ctx, userOf(hc), req.path);
      try {
        return { entry: entryInfo(ctx, path) };
      } catch (err) {
        throw fsError(err, `cannot stat ${path}`);
      }
    },

    makeDir(req, hc) {
      const user = userOf(hc);
      const path = resolve(ctx, user, req.path);
      const existing = statSync(path, { throwIfNoEntry: false });
      if (existing?.isDirectory())
        throw new ConnectError(`directory already exists: ${path}`, Code.AlreadyExists);
      if (existing)
        throw new ConnectError(`path already exists but is not a directory: ${path}`, Code.InvalidArgument);
      try {
        ensureDirs(path, user);
        return { entry: entryInfo(ctx, path) };
      } catch (err) {
        throw fsError(err, `cannot create directory ${path}`);
      }
    },

    move(req, hc) {
      const user = userOf(hc);
      const source = resolve(ctx, user, req.source);
      const destination = resolve(ctx, user, req.destination);
      if (!lstatSync(source, { throwIfNoEntry: false }))
        throw new ConnectError(`source not found: ${source}`, Code.NotFound);
      try {
        ensureDirs(dirname(destination), user);
        renameSync(source, destination);
        return { entry: entryInfo(ctx, destination) };
      } catch (err) {
        throw fsError(err, `cannot move ${source} to ${destination}`);
      }
    },

    listDir(req, hc) {
      const path = resolve(ctx, userOf(hc), req.path);
      const depth = req.depth === 0 ? 1 : req.depth;
      let info: ReturnType<typeof statSync>;
      try {
        info = statSync(path); // the root may be a symlink to a directory: follow it
      } catch (err) {
        throw fsError(err, `cannot list ${path}`);
      }
      if (!info.isDirectory())
        throw new ConnectError(`path is not a directory: ${path}`, Code.InvalidArgument);
      const entries: EntryInfo[] = [];
      walk(ctx, path, depth, entries);
      return { entries };
    },

    remove(req, hc) {
      const path = resolve(ctx, userOf(hc), req.path);
      if (!lstatSync(path, { throwIfNoEntry: false }))
        throw new ConnectError(`path not found: ${path}`, Code.NotFound);
      try {
        rmSync(path, { recursive: true, force: true });
      } catch (err) {
        throw fsError(err, `cannot remove ${path}`);
      }
      return {};
    },

    watchDir(req, hc) {
      const path = resolve(ctx, userOf(hc), req.path);
      return watches.stream(path, req.recursive, req.includeEntry, hc.signal);
    },

    createWatcher(req, hc) {
      const path = resolve(ctx, userOf(hc), req.path);
      return { watcherId: watches.create(path, req.recursive, req.includeEntry) };
    },

    getWatcherEvents(req) {
      return { events: watches.drain(req.watcherId) };
    },

    removeWatcher(req) {
      watches.remove(req.watcherId);
      return {};
    },
  };
}
