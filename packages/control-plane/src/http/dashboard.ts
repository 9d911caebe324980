import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** packages/dashboard/dist, from src/http or dist/http alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

/**
 * Serves the built dashboard at `/`. Only the files present at start get a route (`wildcard: false`), so
 * the API's own paths and its JSON 404 for unknown ones are never shadowed. Assets are named by content
 * hash and cached for good; index.html is revalidated so a new build shows at the next load.
 */
export async function serveDashboard(app: FastifyInstance, dir: string): Promise<boolean> {
  if (!existsSync(join(dir, 'index.html'))) return false;
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    decorateReply: false,
    schemaHide: true,
    cacheControl: false,
    setHeaders(res, path) {
      const immutable = path.includes(`${join(dir, 'assets')}/`);
      res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return true;
}
