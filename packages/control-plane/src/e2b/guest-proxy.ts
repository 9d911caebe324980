import {
  type Agent,
  type ClientRequestArgs,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { Logger } from 'pino';
import { tunnelConnector } from '../tunnel/tunnel-socket.js';

/** Hop-by-hop headers, and the ones that only address or authorise the proxy itself. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-api-key',
  'x-access-token',
  'e2b-sandbox-id',
  'e2b-sandbox-port',
]);

export interface GuestTarget {
  tunnelPath: string;
  sandboxId: string;
  port: number;
  /** Pooled keep-alive connections to this port (guest-pool.ts); without it, one tunnel per request. */
  agent?: Agent;
}

/** Writes E2B's error body unless the response has begun; then the client sees a cut stream. */
export function sendE2bError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code: status, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * One HTTP request to a guest port through the host agent's tunnel, streamed both ways: the request body is
 * piped as it arrives and each response chunk is written as it comes (Connect server streams, downloads),
 * never collected. Connections come from the target's pool when it has one (reused while the sandbox
 * stays in one state), else each request opens its own tunnel connection (no `agent` option then: Node
 * ignores `createConnection` when one is given, even false).
 */
export function proxyToGuest(
  req: IncomingMessage,
  res: ServerResponse,
  target: GuestTarget,
  path: string,
  log: Logger,
): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !DROPPED.has(name)) headers[name] = value;
  }
  const upstream = request({
    method: req.method,
    path,
    headers,
    ...(target.agent
      ? { agent: target.agent }
      : {
          createConnection: tunnelConnector(
            target.tunnelPath,
            target.sandboxId,
            target.port,
          ) as unknown as ClientRequestArgs['createConnection'],
        }),
  });
  upstream.on('response', (answer: IncomingMessage) => {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !DROPPED.has(name)) out[name] = value;
    }
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
    // Streams must reach the client frame by frame.
    res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (err) => {
    log.warn({ err, sandbox: target.sandboxId, port: target.port }, 'guest proxy request failed');
    sendE2bError(
      res,
      502,
      `sandbox ${target.sandboxId} port ${target.port} is not reachable: ${err.message}`,
    );
  });
  // The client went away: the guest side goes too (a disconnected command keeps running in envd).
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
}

/** A small request to envd (e.g. /init, /metrics) through the tunnel, answered as parsed JSON or nothing. */
export function guestJson(
  target: GuestTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      {
        method,
        path,
        headers: {
          host: 'envd',
          ...(payload && { 'content-type': 'application/json', 'content-length': payload.length }),
        },
        createConnection: tunnelConnector(
          target.tunnelPath,
          target.sandboxId,
          target.port,
        ) as unknown as ClientRequestArgs['createConnection'],
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
