import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { teamOf } from '../http/auth.js';
import type { ApiContext } from '../http/context.js';
import { errors, SandboxId, Strict } from '../schemas/common.js';
import { SANDBOX_STATES } from '../services/sandbox-view.js';

const Event = Type.Object({
  type: Type.String(),
  state: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  at: Type.String({ format: 'date-time' }),
});

const Transition = Type.Object({
  sandboxId: Type.String(),
  operation: Type.Union([Type.Literal('pause'), Type.Literal('resume')]),
  ms: Type.Number(),
  at: Type.String({ format: 'date-time' }),
});

const HostStats = Type.Object({
  hostId: Type.String(),
  accel: Type.String(),
  memory: Type.Object({ budgetMib: Type.Number(), committedMib: Type.Number(), freeMib: Type.Number() }),
  agentSandboxes: Type.Integer(),
  sandboxesByState: Type.Object(Object.fromEntries(SANDBOX_STATES.map((s) => [s, Type.Integer()]))),
  snapshotDisk: Type.Union([
    Type.Object({ templatesBytes: Type.Number(), sandboxesBytes: Type.Number(), totalBytes: Type.Number() }),
    Type.Null(),
  ]),
  recentTransitions: Type.Array(Transition),
});

/** The dashboard's reads: a sandbox's event history and the host's numbers. */
export function hostRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/sandboxes/:id/events',
      {
        schema: {
          summary: "A sandbox's state changes, oldest first (kept after it is deleted)",
          tags: ['sandboxes'],
          params: Strict({ id: SandboxId }),
          querystring: Strict({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          }),
          response: { 200: Type.Object({ events: Type.Array(Event) }), ...errors(400, 401, 404) },
        },
      },
      async (request) => ({
        events: await ctx.events.forSandbox(teamOf(request), request.params.id, request.query.limit ?? 100),
      }),
    );

    app.get(
      '/v1/host',
      {
        schema: {
          summary:
            "The host's memory budget, the team's sandboxes by state, snapshot disk use, recent pause/resume times",
          tags: ['host'],
          querystring: Strict({
            transitions: Type.Optional(Type.Integer({ minimum: 0, maximum: 200, default: 20 })),
          }),
          response: { 200: HostStats, ...errors(400, 401, 503) },
        },
      },
      async (request) => ctx.host.stats(teamOf(request), request.query.transitions ?? 20),
    );
  };
}
