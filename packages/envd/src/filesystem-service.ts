import { lstatSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Filesystem } from '@amber/proto/filesystem';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import { rpcUser } from './auth.js';
import type { EnvdContext } from './context.js';
import { ensureDirs } from './ensure-dirs.js';
import { entryInfo, entryMessage } from './entry-info.js';
import { fsError } from './fs-errors.js';
import { listRows } from './list-dir.js';
import { resolveRpcPath as resolve } from './rpc-path.js';
import { ownerNames } from './users.js';
import type { WatchService } from './watch-service.js';

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

    // Connect-protocol clients are answered by list-dir-http.ts; this serves gRPC and compressed calls.
    listDir(req, hc) {
      const path = resolve(ctx, userOf(hc), req.path);
      const rows = listRows(ctx, path, req.depth === 0 ? 1 : req.depth);
      const names = ownerNames(ctx.userFiles);
      return { entries: rows.map((row) => entryMessage(row, names)) };
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
