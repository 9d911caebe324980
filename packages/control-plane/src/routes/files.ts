import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { teamOf } from '../http/auth.js';
import type { ApiContext } from '../http/context.js';
import { errors, FileEntry, GuestPath, SandboxId, Strict } from '../schemas/common.js';

const Params = Strict({ id: SandboxId });
const PathQuery = Strict({ path: GuestPath });

export function fileRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    // Uploads are any bytes, passed on as they arrive: no parser reads them, so no size limit applies.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));

    app.put(
      '/v1/sandboxes/:id/files',
      {
        schema: {
          summary: 'Write a file from the raw request body (streamed)',
          tags: ['files'],
          params: Params,
          querystring: PathQuery,
          response: {
            200: Type.Object({ path: Type.String(), size: Type.Integer() }),
            ...errors(400, 401, 404, 409),
          },
        },
      },
      async (request) =>
        ctx.metrics.time('file_write', () =>
          ctx.files.write(teamOf(request), request.params.id, request.query.path, request.raw),
        ),
    );

    app.get(
      '/v1/sandboxes/:id/files',
      {
        schema: {
          summary: 'Read a file as raw bytes (streamed)',
          tags: ['files'],
          params: Params,
          querystring: PathQuery,
          response: {
            200: Type.Any({ description: 'the file, application/octet-stream' }),
            ...errors(400, 401, 404, 409),
          },
        },
      },
      async (request, reply) => {
        const chunks = await ctx.files.read(teamOf(request), request.params.id, request.query.path);
        return reply.type('application/octet-stream').send(Readable.from(chunks));
      },
    );

    app.delete(
      '/v1/sandboxes/:id/files',
      {
        schema: {
          summary: 'Remove a file or a directory (recursively)',
          tags: ['files'],
          params: Params,
          querystring: PathQuery,
          response: { 204: Type.Null(), ...errors(400, 401, 404, 409) },
        },
      },
      async (request, reply) => {
        await ctx.files.remove(teamOf(request), request.params.id, request.query.path);
        return reply.status(204).send(null);
      },
    );
  };
}

/** The JSON file routes, in the normal (JSON-parsing) scope. */
export function fileJsonRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/sandboxes/:id/files/list',
      {
        schema: {
          summary: 'List a directory, depth levels deep',
          tags: ['files'],
          params: Params,
          querystring: Strict({
            path: GuestPath,
            depth: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 1 })),
          }),
          response: { 200: Type.Object({ entries: Type.Array(FileEntry) }), ...errors(400, 401, 404, 409) },
        },
      },
      async (request) => ({
        entries: await ctx.files.list(
          teamOf(request),
          request.params.id,
          request.query.path,
          request.query.depth ?? 1,
        ),
      }),
    );

    app.post(
      '/v1/sandboxes/:id/files/mkdir',
      {
        schema: {
          summary: 'Make a directory (and its parents)',
          tags: ['files'],
          params: Params,
          body: Strict({ path: GuestPath }),
          response: { 200: Type.Object({ entry: FileEntry }), ...errors(400, 401, 404, 409) },
        },
      },
      async (request) => ({
        entry: await ctx.files.mkdir(teamOf(request), request.params.id, request.body.path),
      }),
    );

    app.post(
      '/v1/sandboxes/:id/files/move',
      {
        schema: {
          summary: 'Move or rename a file or directory',
          tags: ['files'],
          params: Params,
          body: Strict({ from: GuestPath, to: GuestPath }),
          response: { 200: Type.Object({ entry: FileEntry }), ...errors(400, 401, 404, 409) },
        },
      },
      async (request) => ({
        entry: await ctx.files.move(teamOf(request), request.params.id, request.body.from, request.body.to),
      }),
    );
  };
}
