import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiError } from '../errors.js';
import { teamOf } from '../http/auth.js';
import type { ApiContext } from '../http/context.js';
import { errors, NetworkBody, Sandbox, SandboxId, Strict, StringMap, TimeoutSec } from '../schemas/common.js';
import { SANDBOX_STATES, type SandboxState } from '../services/sandbox-view.js';

const Params = Strict({ id: SandboxId });
const Empty = Strict({});

/** These bodies are optional: no body is validated as `{}`, so a stray field is still a 400. */
const noBodyIsEmpty = async (request: { body: unknown }) => {
  request.body ??= {};
};

export const CreateBody = Strict({
  template: Type.Optional(
    Type.Union([
      Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9._-]*$' }),
      Type.Null(),
    ]),
  ),
  vcpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
  memoryMb: Type.Optional(Type.Integer({ minimum: 128, maximum: 16_384 })),
  timeoutSec: Type.Optional(TimeoutSec),
  metadata: Type.Optional(StringMap(64, 128, 1024)),
  envs: Type.Optional(StringMap(256, 256, 65_536)),
  onTimeout: Type.Optional(Type.Union([Type.Literal('kill'), Type.Literal('pause')])),
  network: Type.Optional(NetworkBody),
});

/** `k1=v1&k2=v2`, URL-encoded as one query value (E2B's shape). */
function parseMetadataFilter(raw: string | undefined): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  const filter: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(raw)) filter[key] = value;
  return filter;
}

function parseStates(raw: string | undefined): SandboxState[] | undefined {
  if (raw === undefined) return undefined;
  const states = raw.split(',').filter((s) => s !== '');
  for (const state of states) {
    if (!SANDBOX_STATES.includes(state as SandboxState)) {
      throw new ApiError('invalid_argument', `unknown state "${state}"; one of ${SANDBOX_STATES.join(', ')}`);
    }
  }
  return states as SandboxState[];
}

export function sandboxRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/sandboxes',
      {
        schema: {
          summary: 'Create a sandbox (a spawn from a template; template: null cold-boots)',
          tags: ['sandboxes'],
          body: CreateBody,
          response: { 201: Sandbox, ...errors(400, 401, 404, 503) },
        },
      },
      async (request, reply) => {
        const view = await ctx.metrics.time('create', () =>
          ctx.sandboxes.create(teamOf(request), request.body),
        );
        return reply.status(201).send(view);
      },
    );

    app.get(
      '/v1/sandboxes',
      {
        schema: {
          summary: 'List sandboxes, oldest first',
          tags: ['sandboxes'],
          querystring: Strict({
            state: Type.Optional(Type.String({ maxLength: 200 })),
            metadata: Type.Optional(Type.String({ maxLength: 4096 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            nextToken: Type.Optional(Type.String({ maxLength: 512 })),
          }),
          response: {
            200: Type.Object({
              sandboxes: Type.Array(Sandbox),
              nextToken: Type.Union([Type.String(), Type.Null()]),
            }),
            ...errors(400, 401),
          },
        },
      },
      async (request) => {
        const q = request.query;
        const states = parseStates(q.state);
        const metadata = parseMetadataFilter(q.metadata);
        return ctx.sandboxes.list(teamOf(request), {
          limit: q.limit ?? 100,
          ...(states && { states }),
          ...(metadata && { metadata }),
          ...(q.nextToken && { nextToken: q.nextToken }),
        });
      },
    );

    app.get(
      '/v1/sandboxes/:id',
      {
        schema: {
          summary: 'Get a sandbox',
          tags: ['sandboxes'],
          params: Params,
          response: { 200: Sandbox, ...errors(401, 404) },
        },
      },
      async (request) => ctx.sandboxes.get(teamOf(request), request.params.id),
    );

    app.delete(
      '/v1/sandboxes/:id',
      {
        schema: {
          summary: 'Kill a sandbox and free everything it holds',
          tags: ['sandboxes'],
          params: Params,
          response: { 204: Type.Null(), ...errors(401, 404) },
        },
      },
      async (request, reply) => {
        await ctx.metrics.time('kill', () => ctx.sandboxes.remove(teamOf(request), request.params.id));
        return reply.status(204).send(null);
      },
    );

    app.post(
      '/v1/sandboxes/:id/pause',
      {
        preValidation: noBodyIsEmpty,
        schema: {
          summary: 'Pause a running sandbox to disk',
          tags: ['sandboxes'],
          params: Params,
          body: Empty,
          response: { 200: Sandbox, ...errors(401, 404, 409) },
        },
      },
      async (request) =>
        ctx.metrics.time('pause', () => ctx.sandboxes.pause(teamOf(request), request.params.id)),
    );

    app.post(
      '/v1/sandboxes/:id/resume',
      {
        preValidation: noBodyIsEmpty,
        schema: {
          summary: 'Resume a paused sandbox; its own timeout starts again',
          tags: ['sandboxes'],
          params: Params,
          body: Empty,
          response: { 200: Sandbox, ...errors(401, 404, 409, 503) },
        },
      },
      async (request) =>
        ctx.metrics.time('resume', () => ctx.sandboxes.resume(teamOf(request), request.params.id)),
    );

    app.post(
      '/v1/sandboxes/:id/timeout',
      {
        schema: {
          summary: "Set the sandbox's timeout; it expires timeoutSec from now",
          tags: ['sandboxes'],
          params: Params,
          body: Strict({ timeoutSec: TimeoutSec }),
          response: { 200: Sandbox, ...errors(400, 401, 404, 409) },
        },
      },
      async (request) =>
        ctx.sandboxes.setTimeout(teamOf(request), request.params.id, request.body.timeoutSec),
    );

    app.put(
      '/v1/sandboxes/:id/network',
      {
        schema: {
          summary: "Replace the sandbox's outbound rules (allowOut wins over denyOut; {} clears them)",
          tags: ['sandboxes'],
          params: Params,
          body: NetworkBody,
          response: { 200: Sandbox, ...errors(400, 401, 404, 409) },
        },
      },
      async (request) => ctx.sandboxes.updateNetwork(teamOf(request), request.params.id, request.body),
    );

    app.post(
      '/v1/sandboxes/:id/fork',
      {
        preValidation: noBodyIsEmpty,
        schema: {
          summary: 'Fork a sandbox into count copies (memory, disk and processes)',
          tags: ['sandboxes'],
          params: Params,
          body: Strict({ count: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })) }),
          response: {
            201: Type.Object({ sandboxes: Type.Array(Sandbox) }),
            ...errors(400, 401, 404, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const count = request.body.count ?? 1;
        const sandboxes = await ctx.metrics.time('fork', () =>
          ctx.sandboxes.fork(teamOf(request), request.params.id, count),
        );
        return reply.status(201).send({ sandboxes });
      },
    );
  };
}
