import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { teamOf } from '../http/auth.js';
import type { ApiContext } from '../http/context.js';
import { errors, SandboxId, Snapshot, Strict } from '../schemas/common.js';

const Name = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9._-]*$' });

export function snapshotRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/snapshots',
      {
        schema: {
          summary: 'Freeze a sandbox as a named template; create sandboxes from it with template: <name>',
          tags: ['snapshots'],
          body: Strict({ sandboxId: SandboxId, name: Name, overwrite: Type.Optional(Type.Boolean()) }),
          response: { 201: Snapshot, ...errors(400, 401, 404, 409) },
        },
      },
      async (request, reply) => {
        const view = await ctx.metrics.time('snapshot', () =>
          ctx.templates.create(teamOf(request), request.body),
        );
        return reply.status(201).send(view);
      },
    );

    app.get(
      '/v1/snapshots',
      {
        schema: {
          summary: "List the team's snapshots and the built-in base",
          tags: ['snapshots'],
          response: { 200: Type.Object({ snapshots: Type.Array(Snapshot) }), ...errors(401) },
        },
      },
      async (request) => ({ snapshots: await ctx.templates.list(teamOf(request)) }),
    );

    app.get(
      '/v1/snapshots/:name',
      {
        schema: {
          summary: 'Get a snapshot',
          tags: ['snapshots'],
          params: Strict({ name: Name }),
          response: { 200: Snapshot, ...errors(401, 404) },
        },
      },
      async (request) => ctx.templates.get(teamOf(request), request.params.name),
    );

    app.delete(
      '/v1/snapshots/:name',
      {
        schema: {
          summary: 'Delete a snapshot (sandboxes spawned from it live on)',
          tags: ['snapshots'],
          params: Strict({ name: Name }),
          response: { 204: Type.Null(), ...errors(400, 401, 404) },
        },
      },
      async (request, reply) => {
        await ctx.templates.remove(teamOf(request), request.params.name);
        return reply.status(204).send(null);
      },
    );
  };
}
