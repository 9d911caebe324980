import type { EnvdContext } from './context.js';
import { fsError } from './fs-errors.js';
import { resolveUserPath } from './paths.js';
import type { GuestUser } from './users.js';

/** A path from an RPC, resolved for `user` (see resolveUserPath); a bad one is invalid_argument. */
export function resolveRpcPath(ctx: EnvdContext, user: GuestUser, path: string): string {
  try {
    return resolveUserPath(path, user, ctx.defaultWorkdir);
  } catch (err) {
    throw fsError(err, path);
  }
}
