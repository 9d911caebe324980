import { timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Http2Server, type Http2Session } from 'node:http2';
import { dirname } from 'node:path';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { SandboxManager } from '../sandbox-manager.js';
import { assertListenAllowed, type ListenAddress } from './listen-address.js';
import { hostAgentRoutes } from './service.js';

function tokenInterceptor(token: string): Interceptor {
  const expected = Buffer.from(`Bearer ${token}`);
  return (next) => async (req) => {
    const given = Buffer.from(req.header.get('authorization') ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ConnectError('a valid agent token is required', Code.Unauthenticated);
    }
    return next(req);
  };
}

export interface AgentServer {
  server: Http2Server;
  address: ListenAddress;
  /** Where clients connect: the socket path or host:port actually bound (port 0 resolved). */
  url: string;
  close(): Promise<void>;
}

/**
 * HTTP/2 cleartext, because WriteFile is a client stream. A unix socket (mode 0600) or loopback is the
 * default; any other address refuses to start without a token.
 */
export async function startRpcServer(
  manager: SandboxManager,
  listen: string,
  token?: string,
): Promise<AgentServer> {
  const address = assertListenAllowed(listen, token);
  const handler = connectNodeAdapter({
    routes: hostAgentRoutes(manager),
    interceptors: token ? [tokenInterceptor(token)] : [],
  });
  const server = createServer(handler);
  const sessions = new Set<Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  if (address.kind === 'unix') {
    await mkdir(dirname(address.path), { recursive: true });
    await rm(address.path, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (address.kind === 'unix') server.listen(address.path, resolve);
    else server.listen(address.port, address.host, resolve);
  });
  if (address.kind === 'unix') await chmod(address.path, 0o600);
  const bound = server.address();
  const url =
    address.kind === 'unix'
      ? `unix:${address.path}`
      : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${typeof bound === 'object' && bound ? bound.port : address.port}`;
  return {
    server,
    address,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A client's idle session kept a stopped agent's process alive ~30 s after its work was done:
        // GOAWAY ends idle ones now. Streams of running commands would hold them forever: 2 s, then cut.
        for (const session of sessions) session.close();
        setTimeout(() => {
          for (const session of sessions) session.destroy();
          resolve();
        }, 2000).unref();
      }),
  };
}
