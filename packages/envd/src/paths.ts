import { isAbsolute, join, normalize, posix } from 'node:path';
import type { GuestUser } from './users.js';

export class PathError extends Error {}

/**
 * Resolves a client's path as E2B's envd does: empty means the default workdir (else the user's home),
 * `~` and `~/x` the user's home, relative paths are joined to the home. A path whose `..` segments climb
 * above `/` is refused instead of silently clamped: it almost always means a client built it wrong.
 */
export function resolveUserPath(path: string, user: GuestUser, defaultWorkdir?: string): string {
  if (path.includes('\0')) throw new PathError('the path contains a NUL byte');
  let expanded = path === '' ? (defaultWorkdir ?? user.home) : path;
  if (expanded === '~' || expanded.startsWith('~/')) expanded = join(user.home, expanded.slice(1));
  else if (expanded.startsWith('~'))
    throw new PathError(`cannot expand ${JSON.stringify(path)}: only the calling user's ~ is supported`);
  const absolute = isAbsolute(expanded) ? expanded : posix.join(user.home, expanded);
  let depth = 0;
  for (const segment of absolute.split('/')) {
    if (segment === '..') depth--;
    else if (segment !== '' && segment !== '.') depth++;
    if (depth < 0) throw new PathError(`path ${JSON.stringify(path)} climbs above / with ".."`);
  }
  const resolved = normalize(absolute);
  return resolved.length > 1 && resolved.endsWith('/') ? resolved.slice(0, -1) : resolved;
}
