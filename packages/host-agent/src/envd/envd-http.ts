import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import { connectInNetns } from '@amber/native';
import { AgentError } from '../errors.js';

/**
 * Plain HTTP/1.1 requests to one guest's envd. Every connection is a TCP socket created inside the
 * sandbox's network namespace, so the guest is reachable from the agent and from nowhere else on the host.
 */
export class EnvdHttp {
  constructor(
    private readonly nsPath: string,
    private readonly host: string,
    private readonly port: number,
  ) {}

  connect(): Socket {
    return connectInNetns(this.nsPath, this.host, this.port);
  }

  /**
   * No `agent` on purpose: Node ignores `createConnection` when an agent (even `false`) is given. `socket`:
   * an open connection to use instead of a new one.
   */
  request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    socket?: Socket,
  ): ClientRequest {
    return request({
      method,
      host: this.host,
      port: this.port,
      path,
      headers,
      createConnection: () => socket ?? this.connect(),
    });
  }

  send(req: ClientRequest, body?: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
  }

  /** One request that must answer 204; returns its connection (left open with `keepAlive`). */
  async noContent(
    method: string,
    path: string,
    options: { timeoutMs: number; keepAlive?: boolean; socket?: Socket; body?: string },
  ): Promise<Socket> {
    const headers: Record<string, string> = options.keepAlive ? { connection: 'keep-alive' } : {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const req = this.request(method, path, headers, options.socket);
    const { timeoutMs } = options;
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    const res = await this.send(req, options.body);
    const text = await readBody(res);
    const socket = req.socket;
    if (res.statusCode !== 204 || !socket) {
      socket?.destroy();
      throw new AgentError('internal', `envd ${path} answered ${res.statusCode}: ${text}`);
    }
    return socket;
  }
}

export async function readBody(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}

export function envdHttpError(status: number, body: string, path: string): AgentError {
  let message = body;
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    // not JSON; keep the raw text
  }
  const code =
    status === 404
      ? 'not_found'
      : status === 400
        ? 'invalid_argument'
        : status === 507
          ? 'resource_exhausted'
          : 'internal';
  return new AgentError(code, `${path}: ${message}`);
}
