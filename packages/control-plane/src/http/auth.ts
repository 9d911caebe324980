import type { FastifyRequest } from 'fastify';
import type { KeyStore, Principal } from '../auth/key-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** `X-API-Key`, else `Authorization: Bearer`, else (for WebSockets, which browsers cannot give headers) `?apiKey=`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header.trim();
  const authorization = request.headers.authorization;
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  const query = request.query as Record<string, unknown> | undefined;
  if (request.headers.upgrade?.toLowerCase() === 'websocket' && typeof query?.apiKey === 'string')
    return query.apiKey;
  return undefined;
}

export function authHook(keys: KeyStore) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await keys.authenticate(presentedKey(request));
  };
}

/** The team of an authenticated request (the hook ran, or the route is not protected and this is a bug). */
export function teamOf(request: FastifyRequest): string {
  if (!request.principal) throw new Error('route reached without authentication');
  return request.principal.teamId;
}
