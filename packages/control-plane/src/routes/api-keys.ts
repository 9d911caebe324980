import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { teamOf } from '../http/auth.js';
import type { ApiContext } from '../http/context.js';
import { ApiKey, errors, Strict } from '../schemas/common.js';

export function apiKeyRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/api-keys',
      {
        schema: {
          summary: "Create a key for the caller's team; the key is shown only in this response",
          tags: ['api-keys'],
          body: Strict({ name: Type.String({ minLength: 1, maxLength: 100 }) }),
          response: {
            201: Type.Intersect([ApiKey, Type.Object({ key: Type.String() })]),
            ...errors(400, 401),
          },
        },
      },
      async (request, reply) =>
        reply.status(201).send(await ctx.keys.create(teamOf(request), request.body.name)),
    );

    app.get(
      '/v1/api-keys',
      {
        schema: {
          summary: "List the team's keys (never the keys themselves)",
          tags: ['api-keys'],
          response: { 200: Type.Object({ apiKeys: Type.Array(ApiKey) }), ...errors(401) },
        },
      },
      async (request) => ({ apiKeys: await ctx.keys.list(teamOf(request)) }),
    );

    app.delete(
      '/v1/api-keys/:id',
      {
        schema: {
          summary: 'Delete a key; it stops working at once',
          tags: ['api-keys'],
          params: Strict({ id: Type.String({ minLength: 1, maxLength: 64 }) }),
          response: { 204: Type.Null(), ...errors(401, 404) },
        },
      },
      async (request, reply) => {
        await ctx.keys.remove(teamOf(request), request.params.id);
        return reply.status(204).send(null);
      },
    );
  };
}
