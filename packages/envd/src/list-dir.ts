import { readdirSync, statSync } from 'node:fs';
import { Code, ConnectError } from '@connectrpc/connect';
import type { EnvdContext } from './context.js';
import { type EntryRow, isDirectoryMode, METADATA_XATTR_PREFIX } from './entry-info.js';
import { fsError } from './fs-errors.js';

/**
 * ListDir's rows: depth-first, in name order, not following symlinks below the root (as E2B's walk).
 * The entries of each directory are stat'ed in one addon call (lstat, readlink, xattrs), so a listing
 * costs one crossing per directory instead of a JS lstat and an xattr call per entry.
 */
export function listRows(ctx: EnvdContext, path: string, depth: number): EntryRow[] {
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path); // the root may be a symlink to a directory: follow it
  } catch (err) {
    throw fsError(err, `cannot list ${path}`);
  }
  if (!info.isDirectory()) throw new ConnectError(`path is not a directory: ${path}`, Code.InvalidArgument);
  const rows: EntryRow[] = [];
  walk(ctx, path, depth, rows);
  return rows;
}

function walk(ctx: EnvdContext, dir: string, depth: number, out: EntryRow[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw fsError(err, `cannot read directory ${dir}`);
  }
  const { stats, targets, metadata } = ctx.native().statEntries(dir, names, METADATA_XATTR_PREFIX);
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  for (let i = 0; i < names.length; i++) {
    const at = i * 5;
    const mode = stats[at] as number;
    if (mode < 0) continue; // removed while listing
    const name = names[i] as string;
    const row: EntryRow = {
      name,
      path: prefix + name,
      mode,
      uid: stats[at + 1] as number,
      gid: stats[at + 2] as number,
      size: stats[at + 3] as number,
      mtimeMs: stats[at + 4] as number,
    };
    const target = targets[i];
    if (target !== undefined) row.symlinkTarget = target;
    const meta = metadata[i];
    if (meta !== undefined) row.metadata = meta;
    out.push(row);
    if (depth > 1 && isDirectoryMode(mode)) walk(ctx, row.path, depth - 1, out);
  }
}
