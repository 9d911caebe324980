import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClockGate } from './clock-gate.js';
import type { EnvdContext } from './context.js';
import { HttpError } from './http-error.js';
import { lookupUser } from './users.js';

export interface InitOptions {
  ctx: EnvdContext;
  /** The request carried the current access token (or none is set). */
  authorized: boolean;
  /** Sets the wall clock (µs since 1970); only in the guest: tests run envd on the host. */
  setClock: ((epochUs: number) => void) | undefined;
  clock: ClockGate;
}

/** Events, not `for await`: a stream's async iterator is ~1,000 translation blocks of a restored guest's first answer. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    const onData = (chunk: string) => {
      body += chunk;
      if (body.length > limit) {
        // The rest is read and dropped, so the 413 still reaches the client.
        req.off('data', onData);
        req.resume();
        reject(new HttpError(413, 'request body too large'));
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve(body));
    req.once('error', reject);
  });
}

async function readJson(req: IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const body = await readBody(req, limit);
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
}

function parseTimestamp(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new HttpError(400, `invalid timestamp: ${JSON.stringify(value)}`);
  return ms;
}

interface InitBody {
  timestamp?: unknown;
  envVars?: unknown;
  accessToken?: unknown;
  defaultUser?: unknown;
  defaultWorkdir?: unknown;
}

function optionalString(body: InitBody, key: keyof InitBody): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, `${key} must be a string`);
  return value;
}

/**
 * `/init`'s body, whichever way it came (POST /init, or a line on the control channel): the host's time
 * (`timestamp`, RFC 3339 or epoch ms), `envVars` for later processes, and `accessToken`, `defaultUser`,
 * `defaultWorkdir`. Once a token is set, a request without it may still reset the clock (a restore must
 * never wait on a secret) but change nothing else. The clock is set once `answered` resolves.
 */
export function applyInit(raw: unknown, answered: Promise<void>, options: InitOptions): void {
  const receivedAt = performance.now();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new HttpError(400, 'the body must be a JSON object');
  const body = raw as InitBody;
  const timestamp = parseTimestamp(body.timestamp);
  const { ctx } = options;
  const accessToken = optionalString(body, 'accessToken');
  const defaultUser = optionalString(body, 'defaultUser');
  const defaultWorkdir = optionalString(body, 'defaultWorkdir');
  const changes =
    body.envVars !== undefined ||
    accessToken !== undefined ||
    defaultUser !== undefined ||
    defaultWorkdir !== undefined;
  if (changes && !options.authorized) throw new HttpError(401, 'missing or invalid access token');
  if (defaultUser !== undefined && !lookupUser(defaultUser, ctx.userFiles))
    throw new HttpError(400, `defaultUser '${defaultUser}' does not exist in the guest`);
  if (defaultWorkdir !== undefined && defaultWorkdir !== '' && !defaultWorkdir.startsWith('/'))
    throw new HttpError(400, 'defaultWorkdir must be an absolute path');
  if (body.envVars !== undefined) {
    if (typeof body.envVars !== 'object' || body.envVars === null)
      throw new HttpError(400, 'envVars must be an object');
    for (const [key, value] of Object.entries(body.envVars)) {
      if (typeof value !== 'string') throw new HttpError(400, `envVars.${key} must be a string`);
    }
    Object.assign(ctx.env, body.envVars);
  }
  if (accessToken !== undefined) ctx.accessToken = accessToken === '' ? undefined : accessToken;
  if (defaultUser !== undefined) ctx.defaultUser = defaultUser;
  if (defaultWorkdir !== undefined) ctx.defaultWorkdir = defaultWorkdir === '' ? undefined : defaultWorkdir;
  const { setClock } = options;
  if (timestamp !== undefined && setClock) {
    // Once the answer is out, adding the time since the request arrived.
    options.clock.set(
      answered.then(() => setClock(Math.round((timestamp + (performance.now() - receivedAt)) * 1000))),
    );
  }
}

/** POST /init: `applyInit` over HTTP, answered 204. */
export async function init(req: IncomingMessage, res: ServerResponse, options: InitOptions): Promise<void> {
  const body = await readJson(req);
  applyInit(body, new Promise<void>((resolve) => res.once('finish', resolve)), options);
  res.writeHead(204);
  res.end();
}
