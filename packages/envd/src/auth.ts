import { timingSafeEqual } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';
import type { EnvdContext } from './context.js';
import { type GuestUser, lookupUser } from './users.js';

/** E2B's SDKs name the calling user in `Authorization: Basic base64("<user>:")` on every RPC. */
export function basicAuthUser(header: string | null | undefined): string | undefined {
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const name = colon < 0 ? decoded : decoded.slice(0, colon);
  return name || undefined;
}

/** The user an RPC runs as: the one it names, else the default; Unauthenticated when unknown (as E2B). */
export function rpcUser(ctx: EnvdContext, headers: Headers): GuestUser {
  const name = basicAuthUser(headers.get('authorization')) ?? ctx.defaultUser;
  const user = lookupUser(name, ctx.userFiles);
  if (!user) throw new ConnectError(`invalid username: '${name}'`, Code.Unauthenticated);
  return user;
}

/** True when no token is set or `given` equals it (compared in constant time). */
export function tokenMatches(ctx: EnvdContext, given: string | string[] | undefined | null): boolean {
  if (ctx.accessToken === undefined) return true;
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(ctx.accessToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
