import type { ClientRequestArgs } from 'node:http';
import { Filesystem } from '@amber/proto/filesystem';
import { Process } from '@amber/proto/process';
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { tunnelConnector } from './tunnel-socket.js';

export const ENVD_PORT = 49983;

export interface EnvdClients {
  filesystem: Client<typeof Filesystem>;
  process: Client<typeof Process>;
}

/**
 * envd's Connect services for one sandbox, each call over its own tunnel connection. `user` picks the
 * guest user as E2B's envd does: HTTP basic auth with the user name and no password.
 */
export function envdClients(tunnelPath: string, sandboxId: string, user?: string): EnvdClients {
  const interceptors: Interceptor[] = user
    ? [
        (next) => (req) => {
          req.header.set('authorization', `Basic ${Buffer.from(`${user}:`).toString('base64')}`);
          return next(req);
        },
      ]
    : [];
  const transport = createConnectTransport({
    baseUrl: `http://envd:${ENVD_PORT}`,
    httpVersion: '1.1',
    interceptors,
    nodeOptions: {
      createConnection: tunnelConnector(
        tunnelPath,
        sandboxId,
        ENVD_PORT,
      ) as unknown as ClientRequestArgs['createConnection'],
    },
  });
  return { filesystem: createClient(Filesystem, transport), process: createClient(Process, transport) };
}
