import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { teamOf } from '../http/auth.js';
import type { ApiContext } from '../http/context.js';
import { errors, GuestPath, SandboxId, Strict, StringMap } from '../schemas/common.js';

export const ExecBody = Strict({
  cmd: Type.Optional(Type.Array(Type.String({ maxLength: 65_536 }), { minItems: 1, maxItems: 1024 })),
  command: Type.Optional(Type.String({ minLength: 1, maxLength: 262_144 })),
  envs: Type.Optional(StringMap(256, 256, 65_536)),
  cwd: Type.Optional(GuestPath),
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
  timeoutSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
  stdin: Type.Optional(Type.String({ maxLength: 512 * 1024 })),
});

const ExecResult = Type.Object({
  exitCode: Type.Integer(),
  stdout: Type.String(),
  stderr: Type.String(),
  encoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')]),
  durationMs: Type.Number(),
  signal: Type.Union([Type.String(), Type.Null()]),
});

export function execRoutes(ctx: ApiContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/sandboxes/:id/exec',
      {
        schema: {
          summary: 'Run a command to completion; output base64 (encoding: "base64") when not UTF-8',
          tags: ['exec'],
          params: Strict({ id: SandboxId }),
          body: ExecBody,
          response: { 200: ExecResult, ...errors(400, 401, 404, 409, 413) },
        },
      },
      async (request) =>
        ctx.metrics.time('exec', () => ctx.execs.run(teamOf(request), request.params.id, request.body)),
    );

    app.get(
      '/v1/sandboxes/:id/exec/stream',
      {
        websocket: true,
        schema: {
          summary:
            'WebSocket: {type:"start",...} in, then stdout/stderr/exit out and stdin/resize/closeStdin/signal in',
          tags: ['exec'],
          params: Strict({ id: SandboxId }),
          querystring: Strict({ apiKey: Type.Optional(Type.String({ maxLength: 100 })) }),
        },
      },
      (socket, request) => {
        void ctx.streams.handle(socket, teamOf(request), request.params.id);
      },
    );
  };
}
