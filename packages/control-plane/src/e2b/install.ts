import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { presentedKey } from '../http/auth.js';
import type { E2bDeps } from './e2b-deps.js';
import { E2bError, toE2bError } from './e2b-error.js';
import { E2bService, ENVD_PORT } from './e2b-service.js';
import { signedFile } from './file-signature.js';
import { proxyToGuest, sendE2bError } from './guest-proxy.js';
import { listRoutes } from './rest-list.js';
import { sandboxRoutes } from './rest-sandboxes.js';
import { snapshotRoutes } from './rest-snapshots.js';
import { E2bSettingsStore } from './settings-store.js';
import { unmatched } from './unsupported-routes.js';

export const E2B_PREFIX = '/e2b';
const ENVD_PREFIX = `${E2B_PREFIX}/envd`;
/** `<port>-<sandboxId>.<domain>`, what `sandbox.getHost(port)` gives; ids are 20 lowercase alphanumerics. */
const HOST_ROUTE = /^(\d{1,5})-([a-z0-9]{20})\./;

/** Where a request goes if it is the guest's: the envd proxy (by E2b-Sandbox-* headers) or host routing. */
export function guestRoute(
  url: string,
  headers: IncomingMessage['headers'],
): { sandboxId: string; port: number; path: string } | undefined {
  const hostMatch = HOST_ROUTE.exec(headers.host ?? '');
  if (hostMatch?.[1] && hostMatch[2]) {
    return { port: Number(hostMatch[1]), sandboxId: hostMatch[2], path: url };
  }
  // uploadUrl()/downloadUrl() drop E2B_SANDBOX_URL's path and the sandbox: the signature finds it.
  if (url.startsWith('/files?') && signedFile(url, undefined))
    return { sandboxId: '', port: ENVD_PORT, path: url };
  if (url !== ENVD_PREFIX && !url.startsWith(`${ENVD_PREFIX}/`) && !url.startsWith(`${ENVD_PREFIX}?`))
    return undefined;
  const id = headers['e2b-sandbox-id'];
  const port = headers['e2b-sandbox-port'];
  const path = url.slice(ENVD_PREFIX.length) || '/';
  return {
    sandboxId: typeof id === 'string' ? id : '',
    port: typeof port === 'string' && port !== '' ? Number(port) : ENVD_PORT,
    path: path.startsWith('/') ? path : `/${path}`,
  };
}

async function proxy(
  e2b: E2bService,
  req: IncomingMessage,
  res: ServerResponse,
  route: { sandboxId: string; port: number; path: string },
): Promise<void> {
  try {
    const signed = route.port === ENVD_PORT ? signedFile(route.path, req.method) : undefined;
    const sandboxId = route.sandboxId || (signed && (await e2b.signedFileSandbox(signed)));
    if (!sandboxId) throw new E2bError(502, 'E2b-Sandbox-Id is missing');
    if (!Number.isInteger(route.port) || route.port < 1 || route.port > 65535)
      throw new E2bError(400, 'E2b-Sandbox-Port must be a port number');
    const token = req.headers['x-access-token'];
    const target = await e2b.proxyTarget(
      sandboxId,
      route.port,
      { ...(typeof token === 'string' && { token }), ...(signed && { signed }) },
      route.path,
    );
    proxyToGuest(req, res, target, route.path, e2b.log);
  } catch (err) {
    const e = toE2bError(err);
    if (e.status >= 500 && e.status !== 502) e2b.log.error({ err, sandbox: route.sandboxId }, 'e2b proxy');
    req.resume();
    sendE2bError(res, e.status, e.message);
  }
}

/**
 * Mounts the E2B-compatible API on the control plane's app: REST under /e2b (E2B's shapes, mapped onto the
 * /v1 services), the envd proxy under /e2b/envd, and `<port>-<id>.<domain>` host routing. The guest routes
 * are taken before Fastify reads a body, so they stream both ways whatever their size.
 */
export async function installE2b(app: FastifyInstance, deps: E2bDeps): Promise<void> {
  const log = deps.ctx.log.child({ component: 'e2b' });
  const e2b = new E2bService(deps.ctx, deps.agent, new E2bSettingsStore(deps.db), log);
  app.addHook('onClose', async () => e2b.pool.close());

  app.addHook('onRequest', (request, reply, done) => {
    const route = guestRoute(request.raw.url ?? '/', request.headers);
    if (!route) {
      done();
      return;
    }
    // Hijacked: Fastify stops its lifecycle here (no body parsing, no body limit, no routing).
    reply.hijack();
    void proxy(e2b, request.raw, reply.raw, route);
    done();
  });

  await app.register(
    async (api) => {
      api.addHook('onRequest', async (request: FastifyRequest) => {
        request.principal = await deps.ctx.keys.authenticate(presentedKey(request));
      });
      api.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
        const e = toE2bError(err);
        if (e.status >= 500) request.log.error({ err }, 'e2b request failed');
        void reply.status(e.status).send(e.toJSON());
      });
      api.setNotFoundHandler((request, reply) => {
        const path = (request.raw.url ?? '/').split('?')[0]?.slice(E2B_PREFIX.length) ?? '/';
        const e = unmatched(request.method, path);
        void reply.status(e.status).send(e.toJSON());
      });
      await api.register(sandboxRoutes(e2b));
      await api.register(listRoutes(e2b));
      await api.register(snapshotRoutes(e2b));
    },
    { prefix: E2B_PREFIX },
  );
}
