import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { type EntryInfo, EntryInfoSchema, FileType } from '@amber/proto/filesystem';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { EnvdContext } from './context.js';
import { type OwnerNames, ownerNames } from './users.js';

/** Extended attributes under this prefix are E2B's per-file metadata (the prefix is stripped). */
export const METADATA_XATTR_PREFIX = 'user.e2b.';

/** One entry as the filesystem gave it, before it is named and encoded (see entry-encoding.ts). */
export interface EntryRow {
  name: string;
  path: string;
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  symlinkTarget?: string;
  metadata?: Record<string, string>;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;
const S_IFSOCK = 0o140000;
const S_IFBLK = 0o060000;
const S_IFCHR = 0o020000;

export function isDirectoryMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

export function fileTypeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case S_IFLNK:
      return FileType.SYMLINK;
    case S_IFDIR:
      return FileType.DIRECTORY;
    case S_IFREG:
      return FileType.FILE;
    default:
      return FileType.UNSPECIFIED;
  }
}

// A listing has few distinct modes: each string is built once.
const permissionCache = new Map<number, string>();

/** As Go's os.FileMode.String(), which E2B's envd sends: type letter (d, L, p, S, D, c, u, g, t), then rwx. */
export function permissionsOf(mode: number): string {
  const hit = permissionCache.get(mode);
  if (hit !== undefined) return hit;
  let type = '-';
  switch (mode & S_IFMT) {
    case S_IFDIR:
      type = 'd';
      break;
    case S_IFLNK:
      type = 'L';
      break;
    case S_IFIFO:
      type = 'p';
      break;
    case S_IFSOCK:
      type = 'S';
      break;
    case S_IFBLK:
      type = 'D';
      break;
    case S_IFCHR:
      type = 'Dc';
      break;
  }
  let special = '';
  if (mode & 0o4000) special += 'u';
  if (mode & 0o2000) special += 'g';
  if (mode & 0o1000) special += 't';
  const rwx = 'rwxrwxrwx';
  let bits = '';
  for (let i = 0; i < 9; i++) bits += mode & (1 << (8 - i)) ? rwx[i] : '-';
  const prefix = `${type === '-' && special ? '' : type}${special}`;
  const text = `${prefix || '-'}${bits}`;
  permissionCache.set(mode, text);
  return text;
}

export function permissionString(info: Stats): string {
  return permissionsOf(info.mode);
}

export function metadataOf(ctx: EnvdContext, path: string): Record<string, string> {
  try {
    return ctx.native().listXattrs(path, METADATA_XATTR_PREFIX);
  } catch {
    // A file that vanished or a filesystem without xattrs has no metadata; the stat already succeeded.
    return {};
  }
}

/** The message for one row (Stat, MakeDir, Move, watch events; ListDir encodes rows itself). */
export function entryMessage(row: EntryRow, names: OwnerNames): EntryInfo {
  return create(EntryInfoSchema, {
    name: row.name,
    type: fileTypeOf(row.mode),
    path: row.path,
    size: BigInt(row.size),
    mode: row.mode & 0o777,
    permissions: permissionsOf(row.mode),
    owner: names.user(row.uid),
    group: names.group(row.gid),
    modifiedTime: timestampFromMs(Math.floor(row.mtimeMs)),
    ...(row.symlinkTarget !== undefined && { symlinkTarget: row.symlinkTarget }),
    metadata: row.metadata ?? {},
  });
}

/** The row for `path`, not following a final symlink (its target is reported). */
export function entryRow(ctx: EnvdContext, path: string, info?: Stats): EntryRow {
  const st = info ?? lstatSync(path);
  let symlinkTarget: string | undefined;
  if (st.isSymbolicLink()) {
    try {
      symlinkTarget = readlinkSync(path);
    } catch {
      // removed meanwhile: reported without a target
    }
  }
  return {
    name: basename(path),
    path,
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ...(symlinkTarget !== undefined && { symlinkTarget }),
    metadata: metadataOf(ctx, path),
  };
}

/** E2B's EntryInfo for `path` (not following a final symlink; its target is reported). */
export function entryInfo(ctx: EnvdContext, path: string, info?: Stats): EntryInfo {
  return entryMessage(entryRow(ctx, path, info), ownerNames(ctx.userFiles));
}
