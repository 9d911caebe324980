import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { teamOf } from '../http/auth.js';
import { BASE_TEMPLATE } from '../services/templates.js';
import { E2bError } from './e2b-error.js';
import type { E2bService } from './e2b-service.js';
import { templateName } from './templates.js';
import { bodyOf, optString } from './validate.js';

const SNAPSHOT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
type Query = Record<string, string | undefined>;

const snapshotInfo = (name: string) => ({ snapshotID: name, names: [name] });

/** E2B's snapshots are Amber's named templates ("snapshots" in /v1); a snapshot ID is a template name. */
export function snapshotRoutes(e2b: E2bService) {
  const { ctx } = e2b;
  return async (app: FastifyInstance) => {
    app.post<{ Params: { id: string } }>('/sandboxes/:id/snapshots', async (request, reply) => {
      const teamId = teamOf(request);
      const given = optString(bodyOf(request.body), 'name', 63);
      const name = given ?? `snap-${randomBytes(6).toString('hex')}`;
      if (!SNAPSHOT_NAME.test(name))
        throw new E2bError(400, `snapshot name must match ${SNAPSHOT_NAME.source} in Amber`);
      const row = await e2b.row(teamId, request.params.id);
      // Named again: E2B moves the name to the new snapshot.
      const view = await ctx.metrics.time('snapshot', () =>
        ctx.templates.create(teamId, { sandboxId: row.id, name, overwrite: true }),
      );
      return reply.status(201).send(snapshotInfo(view.name));
    });

    app.get('/snapshots', async (request, reply) => {
      const query = request.query as Query;
      const limit = query.limit === undefined ? 100 : Number(query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new E2bError(400, 'limit must be an integer from 1 to 1000');
      const offset = query.nextToken ? Number(Buffer.from(query.nextToken, 'base64url').toString()) : 0;
      if (!Number.isSafeInteger(offset) || offset < 0) throw new E2bError(400, 'malformed nextToken');
      const wanted = query.name ? templateName(query.name) : undefined;
      const all = (await ctx.templates.list(teamOf(request))).filter(
        (s) =>
          !s.builtIn &&
          (query.sandboxID === undefined || s.sandboxId === query.sandboxID) &&
          (wanted === undefined || s.name === wanted),
      );
      if (offset + limit < all.length)
        void reply.header('x-next-token', Buffer.from(String(offset + limit)).toString('base64url'));
      return all.slice(offset, offset + limit).map((s) => snapshotInfo(s.name));
    });

    // deleteSnapshot; the built-in base is not the caller's to delete.
    app.delete<{ Params: { id: string } }>('/templates/:id', async (request, reply) => {
      const name = templateName(request.params.id);
      if (name === BASE_TEMPLATE)
        throw new E2bError(400, `the built-in template ${BASE_TEMPLATE} cannot be deleted`);
      await ctx.templates.remove(teamOf(request), name);
      return reply.status(204).send();
    });

    // Template.exists(name).
    app.get<{ Params: { alias: string } }>('/templates/aliases/:alias', async (request) => {
      const name = templateName(request.params.alias);
      if (name !== BASE_TEMPLATE && !(await ctx.templates.find(teamOf(request), name)))
        throw new E2bError(404, `template '${request.params.alias}' not found`);
      return { templateID: name, public: name === BASE_TEMPLATE };
    });
  };
}
