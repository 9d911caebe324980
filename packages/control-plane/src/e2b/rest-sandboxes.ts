import type { FastifyInstance, FastifyReply } from 'fastify';
import { teamOf } from '../http/auth.js';
import { E2bError, unsupported } from './e2b-error.js';
import type { E2bService } from './e2b-service.js';
import { detailShape, sandboxShape } from './shapes.js';
import { resolveTemplate } from './templates.js';
import { bodyOf, checkNetwork, optBool, optInt, optString, optStringMap } from './validate.js';

const MAX_TIMEOUT_SEC = 86_400;
type Params = { id: string };

/** E2B's sandbox lifecycle routes (create, get, kill, timeout, pause, connect, fork, network). */
export function sandboxRoutes(e2b: E2bService) {
  const { ctx } = e2b;
  return async (app: FastifyInstance) => {
    const create = async (body: unknown, reply: FastifyReply, teamId: string) => {
      const b = bodyOf(body);
      const templateID = optString(b, 'templateID', 300) ?? 'base';
      const timeoutSec = optInt(b, 'timeout', 1, MAX_TIMEOUT_SEC);
      const metadata = optStringMap(b, 'metadata') ?? {};
      const envVars = optStringMap(b, 'envVars') ?? {};
      const autoPause = optBool(b, 'autoPause') ?? false;
      const autoPauseMemory = optBool(b, 'autoPauseMemory');
      const autoResume = bodyOf(b.autoResume);
      const resume = optBool(autoResume, 'enabled') ?? false;
      const network = checkNetwork(b.network, b.allow_internet_access);
      for (const key of ['mcp', 'volumeMounts', 'iam'] as const) {
        const value = b[key];
        if (value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0))
          throw unsupported(key);
      }
      if (autoPauseMemory === false) throw unsupported('a filesystem-only pause (keepMemory: false)');
      if (resume && !autoPause)
        throw new E2bError(400, 'autoResume needs autoPause (lifecycle.onTimeout: pause)');
      const template = await resolveTemplate(e2b, teamId, templateID);
      const view = await ctx.metrics.time('create', () =>
        ctx.sandboxes.create(teamId, {
          template,
          metadata,
          envs: envVars,
          ...(timeoutSec !== undefined && { timeoutSec }),
          onTimeout: autoPause ? 'pause' : 'kill',
          ...(network && { network }),
        }),
      );
      let settings: Awaited<ReturnType<E2bService['adopt']>>;
      try {
        settings = await e2b.adopt(teamId, view.id, { envVars, autoResume: resume });
      } catch (err) {
        await ctx.sandboxes.remove(teamId, view.id).catch((removeErr) => {
          e2b.log.error({ err: removeErr, sandbox: view.id }, 'could not remove a half-made sandbox');
        });
        throw err;
      }
      return reply.status(201).send(sandboxShape(await e2b.row(teamId, view.id), settings));
    };

    app.post('/v2/sandboxes', async (request, reply) => create(request.body, reply, teamOf(request)));
    // Older 2.x SDKs and the CLI; `secure` is always on.
    app.post('/sandboxes', async (request, reply) => create(request.body, reply, teamOf(request)));

    app.get<{ Params: Params }>('/sandboxes/:id', async (request) => {
      const row = await e2b.row(teamOf(request), request.params.id);
      return detailShape(row, await e2b.settings.get(row.id));
    });

    app.delete<{ Params: Params }>('/sandboxes/:id', async (request, reply) => {
      const teamId = teamOf(request);
      await e2b.row(teamId, request.params.id);
      await ctx.sandboxes.remove(teamId, request.params.id);
      await e2b.settings.remove(request.params.id);
      return reply.status(204).send();
    });

    app.post<{ Params: Params }>('/sandboxes/:id/timeout', async (request, reply) => {
      const teamId = teamOf(request);
      const timeout = optInt(bodyOf(request.body), 'timeout', 0, MAX_TIMEOUT_SEC);
      if (timeout === undefined) throw new E2bError(400, 'timeout is required');
      await e2b.row(teamId, request.params.id);
      await ctx.sandboxes.setTimeout(teamId, request.params.id, Math.max(1, timeout));
      return reply.status(204).send();
    });

    // Not called by e2b 2.51.0 (the CLI and older SDKs): extend by `duration` seconds.
    app.post<{ Params: Params }>('/sandboxes/:id/refreshes', async (request, reply) => {
      const teamId = teamOf(request);
      const row = await e2b.row(teamId, request.params.id);
      const duration = optInt(bodyOf(request.body), 'duration', 0, 3600);
      await ctx.sandboxes.setTimeout(teamId, row.id, Math.max(1, duration ?? Number(row.timeout_sec)));
      return reply.status(204).send();
    });

    app.post<{ Params: Params }>('/sandboxes/:id/pause', async (request, reply) => {
      const teamId = teamOf(request);
      const memory = optBool(bodyOf(request.body), 'memory');
      if (memory === false) throw unsupported('a filesystem-only pause (keepMemory: false)');
      const row = await e2b.row(teamId, request.params.id);
      if (row.state === 'paused' || row.state === 'pausing')
        throw new E2bError(409, `sandbox ${row.id} is already paused`);
      await ctx.metrics.time('pause', () => ctx.sandboxes.pause(teamId, row.id));
      return reply.status(204).send();
    });

    const connect = async (teamId: string, id: string, body: unknown, reply: FastifyReply) => {
      const b = bodyOf(body);
      const timeout = optInt(b, 'timeout', 0, MAX_TIMEOUT_SEC);
      if (optBool(b, 'memory') === false) throw unsupported("connect({onResume: 'reboot'})");
      const row = await e2b.row(teamId, id);
      const resumed = await e2b.ensureRunning(teamId, id);
      if (timeout !== undefined && timeout > 0) {
        const current = await e2b.row(teamId, id);
        // A running sandbox's timeout only ever grows on connect (E2B's rule).
        const wanted = Date.now() + timeout * 1000;
        if (resumed || current.expires_at === null || Number(current.expires_at) < wanted)
          await ctx.sandboxes.setTimeout(teamId, id, timeout);
      }
      const settings = await e2b.settings.ensure(teamId, row.id);
      return reply.status(resumed ? 201 : 200).send(sandboxShape(await e2b.row(teamId, id), settings));
    };
    app.post<{ Params: Params }>('/v2/sandboxes/:id/connect', async (request, reply) =>
      connect(teamOf(request), request.params.id, request.body, reply),
    );
    app.post<{ Params: Params }>('/sandboxes/:id/connect', async (request, reply) =>
      connect(teamOf(request), request.params.id, request.body, reply),
    );
    // Deprecated resume: 409 when it is already running.
    app.post<{ Params: Params }>('/sandboxes/:id/resume', async (request, reply) => {
      const teamId = teamOf(request);
      const row = await e2b.row(teamId, request.params.id);
      if (row.state === 'running') throw new E2bError(409, `sandbox ${row.id} is already running`);
      return connect(teamId, row.id, { timeout: bodyOf(request.body).timeout }, reply);
    });

    app.post<{ Params: Params }>('/sandboxes/:id/fork', async (request, reply) => {
      const teamId = teamOf(request);
      const b = bodyOf(request.body);
      const count = optInt(b, 'count', 1, 16) ?? 1;
      const timeout = optInt(b, 'timeout', 1, MAX_TIMEOUT_SEC);
      const source = await e2b.row(teamId, request.params.id);
      const sourceSettings = await e2b.settings.get(source.id);
      // Amber forks a paused source too (E2B answers 409 there).
      const forks = await ctx.sandboxes.fork(teamId, source.id, count);
      const out = [];
      for (const fork of forks) {
        if (timeout !== undefined) await ctx.sandboxes.setTimeout(teamId, fork.id, timeout);
        const settings = await e2b.adopt(teamId, fork.id, {
          envVars: {},
          autoResume: sourceSettings?.autoResume ?? false,
        });
        out.push({ sandbox: sandboxShape(await e2b.row(teamId, fork.id), settings) });
      }
      return reply.status(201).send(out);
    });

    app.put<{ Params: Params }>('/sandboxes/:id/network', async (request, reply) => {
      const b = bodyOf(request.body);
      const teamId = teamOf(request);
      const row = await e2b.row(teamId, request.params.id);
      const { allow_internet_access: allow, ...network } = b;
      // The whole configuration is replaced: what is omitted is cleared (E2B's rule).
      const rules = checkNetwork(network, allow);
      await ctx.sandboxes.updateNetwork(teamId, row.id, rules ?? {});
      return reply.status(204).send();
    });

    for (const path of ['/sandboxes/:id/logs', '/v2/sandboxes/:id/logs'])
      app.get(path, async () => {
        throw unsupported('sandbox logs');
      });
  };
}
