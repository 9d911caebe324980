import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { type EntryInfo, EntryInfoSchema, FileType } from '@amber/proto/filesystem';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { EnvdContext } from './context.js';
import { groupName, userName } from './users.js';

/** Extended attributes under this prefix are E2B's per-file metadata (the prefix is stripped). */
export const METADATA_XATTR_PREFIX = 'user.e2b.';

/** As Go's os.FileMode.String(), which E2B's envd sends: type letter (d, L, p, S, D, c, u, g, t), then rwx. */
export function permissionString(info: Stats): string {
  let type = '-';
  if (info.isDirectory()) type = 'd';
  else if (info.isSymbolicLink()) type = 'L';
  else if (info.isFIFO()) type = 'p';
  else if (info.isSocket()) type = 'S';
  else if (info.isBlockDevice()) type = 'D';
  else if (info.isCharacterDevice()) type = 'Dc';
  let special = '';
  if (info.mode & 0o4000) special += 'u';
  if (info.mode & 0o2000) special += 'g';
  if (info.mode & 0o1000) special += 't';
  const rwx = 'rwxrwxrwx';
  let bits = '';
  for (let i = 0; i < 9; i++) bits += info.mode & (1 << (8 - i)) ? rwx[i] : '-';
  const prefix = `${type === '-' && special ? '' : type}${special}`;
  return `${prefix || '-'}${bits}`;
}

function fileType(info: Stats): FileType {
  if (info.isSymbolicLink()) return FileType.SYMLINK;
  if (info.isDirectory()) return FileType.DIRECTORY;
  if (info.isFile()) return FileType.FILE;
  return FileType.UNSPECIFIED;
}

export function metadataOf(ctx: EnvdContext, path: string): Record<string, string> {
  try {
    return ctx.native().listXattrs(path, METADATA_XATTR_PREFIX);
  } catch {
    // A file that vanished or a filesystem without xattrs has no metadata; the stat already succeeded.
    return {};
  }
}

/**
 * E2B's EntryInfo for `path` (not following a final symlink; its target is reported). Synchronous: a
 * listing makes thousands of these, and a thread-pool round trip per call costs more than the call.
 */
export function entryInfo(ctx: EnvdContext, path: string, info?: Stats): EntryInfo {
  const st = info ?? lstatSync(path);
  let symlinkTarget: string | undefined;
  if (st.isSymbolicLink()) {
    try {
      symlinkTarget = readlinkSync(path);
    } catch {
      // removed meanwhile: reported without a target
    }
  }
  return create(EntryInfoSchema, {
    name: basename(path),
    type: fileType(st),
    path,
    size: BigInt(st.size),
    mode: st.mode & 0o777,
    permissions: permissionString(st),
    owner: userName(st.uid, ctx.userFiles),
    group: groupName(st.gid, ctx.userFiles),
    modifiedTime: timestampFromMs(Math.floor(st.mtimeMs)),
    ...(symlinkTarget !== undefined && { symlinkTarget }),
    metadata: metadataOf(ctx, path),
  });
}
