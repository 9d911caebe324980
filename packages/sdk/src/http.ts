import type { Connection } from './connection.js';
import { AmberError, errorFromResponse } from './errors.js';

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (a file's bytes); a stream is sent without being buffered. */
  body?: NonNullable<RequestInit['body']>;
  signal?: AbortSignal;
}

/** Sends one request; resolves to the response when it is 2xx, throws an AmberError otherwise. */
export async function request(
  conn: Connection,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Response> {
  const url = new URL(`${conn.url}${path}`);
  for (const [k, v] of Object.entries(opts.query ?? {}))
    if (v !== undefined) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = {};
  if (conn.apiKey) headers['x-api-key'] = conn.apiKey;
  let body: RequestInit['body'] = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (body !== undefined) {
    headers['content-type'] = 'application/octet-stream';
  }
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (body !== undefined) init.body = body;
  if (opts.signal) init.signal = opts.signal;
  // Node and Chrome send a stream body only in half-duplex mode, and require saying so.
  if (body instanceof ReadableStream) init.duplex = 'half';
  let res: Response;
  try {
    res = await conn.fetch(url, init);
  } catch (err) {
    if ((err as { name?: string }).name === 'AbortError') throw err;
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new AmberError(
      'unavailable',
      0,
      `cannot reach Amber at ${conn.url}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`,
      { cause: err },
    );
  }
  if (!res.ok) throw await errorFromResponse(res);
  return res;
}

/** A request whose answer is JSON (or nothing, for a 204). */
export async function requestJson<T>(
  conn: Connection,
  method: string,
  path: string,
  opts?: RequestOptions,
): Promise<T> {
  const res = await request(conn, method, path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export function seg(value: string): string {
  return encodeURIComponent(value);
}
