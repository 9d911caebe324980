import type { FastifyInstance, FastifyReply } from 'fastify';
import { teamOf } from '../http/auth.js';
import type { SandboxState } from '../services/sandbox-view.js';
import { E2bError } from './e2b-error.js';
import type { E2bService } from './e2b-service.js';
import { AMBER_STATES, listedShape, templateIdOf } from './shapes.js';
import { templateName } from './templates.js';

type Query = Record<string, string | undefined>;

/** E2B's metadata filter: a query-escaped `k=v&k=v` whose keys and values are URI-encoded once more. */
export function parseMetadataFilter(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const [k, v] of new URLSearchParams(raw)) out[decodeURIComponent(k)] = decodeURIComponent(v);
  } catch {
    throw new E2bError(400, 'malformed metadata filter');
  }
  return out;
}

function parseStates(raw: string | undefined): SandboxState[] {
  if (!raw) return [...AMBER_STATES.running, ...AMBER_STATES.paused] as SandboxState[];
  const states: SandboxState[] = [];
  for (const s of raw.split(',')) {
    if (s !== 'running' && s !== 'paused') throw new E2bError(400, `unknown state '${s}'`);
    states.push(...(AMBER_STATES[s] as SandboxState[]));
  }
  return states;
}

/** Offset paging: a team's sandboxes are few, and E2B's order (by start time, desc) needs the whole set. */
function page<T>(items: T[], query: Query, reply: FastifyReply, maxLimit: number): T[] {
  const limit = query.limit === undefined ? maxLimit : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit)
    throw new E2bError(400, `limit must be an integer from 1 to ${maxLimit}`);
  const offset = query.nextToken ? Number(Buffer.from(query.nextToken, 'base64url').toString('utf8')) : 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new E2bError(400, 'malformed nextToken');
  const slice = items.slice(offset, offset + limit);
  if (offset + limit < items.length)
    void reply.header('x-next-token', Buffer.from(String(offset + limit)).toString('base64url'));
  return slice;
}

export function listRoutes(e2b: E2bService) {
  const { ctx } = e2b;
  const listed = async (teamId: string, query: Query) => {
    const metadata = query.metadata ? parseMetadataFilter(query.metadata) : undefined;
    const { rows } = await ctx.sandboxes.store.list(teamId, {
      states: parseStates(query.state),
      ...(metadata && { metadata }),
      limit: 1_000_000,
    });
    let out = rows;
    if (query.template) {
      const wanted = templateName(query.template);
      out = out.filter((row) => templateIdOf(row) === wanted);
    }
    if (query.startedAfter) {
      const after = Date.parse(query.startedAfter);
      if (Number.isNaN(after)) throw new E2bError(400, 'startedAfter must be an RFC 3339 time');
      out = out.filter((row) => Number(row.created_at) > after);
    }
    const order = query.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new E2bError(400, "order must be 'asc' or 'desc'");
    out = [...out].sort((a, b) => Number(a.created_at) - Number(b.created_at) || a.id.localeCompare(b.id));
    if (order === 'desc') out.reverse();
    return out;
  };

  return async (app: FastifyInstance) => {
    app.get('/v2/sandboxes', async (request, reply) => {
      const rows = await listed(teamOf(request), request.query as Query);
      return page(rows, request.query as Query, reply, 100).map(listedShape);
    });
    // v1: running sandboxes only, no paging.
    app.get('/sandboxes', async (request) => {
      const query = { ...(request.query as Query), state: 'running' };
      return (await listed(teamOf(request), query)).map(listedShape);
    });

    // Amber keeps no history: the answer is envd's sample of now, if now is in [start, end].
    app.get<{ Params: { id: string } }>('/sandboxes/:id/metrics', async (request) => {
      const row = await e2b.row(teamOf(request), request.params.id);
      const query = request.query as Query;
      const bound = (key: string) => {
        if (query[key] === undefined) return undefined;
        const value = Number(query[key]);
        if (!Number.isInteger(value)) throw new E2bError(400, `${key} must be a unix time in seconds`);
        return value;
      };
      const start = bound('start');
      const end = bound('end');
      if (row.state !== 'running') return [];
      const sample = await e2b.metrics(row.id);
      if (!sample) return [];
      if (
        (start !== undefined && sample.timestampUnix < start) ||
        (end !== undefined && sample.timestampUnix > end)
      )
        return [];
      return [sample];
    });
  };
}
