import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { E2bDeps } from '../e2b/e2b-deps.js';
import { installE2b } from '../e2b/install.js';
import { ApiError } from '../errors.js';
import { apiKeyRoutes } from '../routes/api-keys.js';
import { execRoutes } from '../routes/exec.js';
import { fileJsonRoutes, fileRoutes } from '../routes/files.js';
import { hostRoutes } from '../routes/host.js';
import { sandboxRoutes } from '../routes/sandboxes.js';
import { snapshotRoutes } from '../routes/snapshots.js';
import { authHook } from './auth.js';
import type { ApiContext } from './context.js';
import { DEFAULT_DASHBOARD_DIR, serveDashboard } from './dashboard.js';
import { errorHandler } from './error-handler.js';

export const JSON_BODY_LIMIT = 1024 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Bodies are checked strictly (no type coercion, unknown fields rejected); query strings and path
 * parameters arrive as text, so only they are coerced to numbers and booleans.
 */
function validatorCompiler() {
  const options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const;
  const strict = new Ajv({ ...options, coerceTypes: false });
  const coercing = new Ajv({ ...options, coerceTypes: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

export async function buildApp(ctx: ApiContext, e2b?: Omit<E2bDeps, 'ctx'>): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log,
    bodyLimit: JSON_BODY_LIMIT,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());
  // JSON only (anything else is a 415); an empty JSON body is no body (`POST …/pause` with a JSON content type and nothing else).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError('invalid_argument', `malformed JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.setErrorHandler(errorHandler as Parameters<typeof app.setErrorHandler>[0]);
  app.setNotFoundHandler((request, reply) => {
    const err = new ApiError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(404).send(err.toJSON());
  });

  // The e2b SDK's API under /e2b; its guest proxy takes its requests before any body is read.
  if (e2b) await installE2b(app as unknown as FastifyInstance, { ctx, ...e2b });
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    ctx.metrics.requests.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      seconds,
    );
    request.log.info(
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Amber API',
        version: ctx.version,
        description: 'Sandboxes (QEMU microVMs) with pause, resume, templates and forks.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    // @fastify/websocket hides WebSocket routes from the document; the exec stream is part of the API.
    transform: ({ schema, url }) => ({
      schema: (url.endsWith('/exec/stream') && schema ? { ...schema, hide: false } : schema) as never,
      url,
    }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(websocket, { options: { maxPayload: 2 * 1024 * 1024 } });

  // Open routes.
  app.get(
    '/v1/health',
    {
      schema: {
        summary: 'Liveness; needs no key',
        tags: ['health'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String() }) },
      },
    },
    async () => ({ status: 'ok' as const, version: ctx.version }),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics()),
  );

  // Everything else needs a key.
  await app.register(async (secured) => {
    secured.addHook('onRequest', authHook(ctx.keys));
    await secured.register(sandboxRoutes(ctx));
    await secured.register(execRoutes(ctx));
    await secured.register(fileJsonRoutes(ctx));
    await secured.register(fileRoutes(ctx));
    await secured.register(snapshotRoutes(ctx));
    await secured.register(apiKeyRoutes(ctx));
    await secured.register(hostRoutes(ctx));
  });
  // The dashboard's static files need no key: it asks for one and sends it with every API call.
  const dashboardDir = ctx.dashboardDir ?? process.env.AMBER_DASHBOARD_DIR ?? DEFAULT_DASHBOARD_DIR;
  if (!(await serveDashboard(app as unknown as FastifyInstance, dashboardDir))) {
    ctx.log.info({ dashboardDir }, 'no built dashboard to serve at / (npm run build makes it)');
  }
  // Typed routes are checked above; callers need only the plain instance.
  return app as unknown as FastifyInstance;
}
