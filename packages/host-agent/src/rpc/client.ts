import { connect } from 'node:net';
import { HostAgentService } from '@amber/proto/hostagent';
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { parseListenAddress } from './listen-address.js';

export type HostAgentClient = Client<typeof HostAgentService>;

export interface HostAgentConnection {
  client: HostAgentClient;
  /** Closes the HTTP/2 session (it would otherwise keep the process alive). */
  close(): void;
}

/** A client for an agent at `unix:<path>` or `host:port` (HTTP/2 cleartext). */
export function connectHostAgent(address: string, token?: string): HostAgentConnection {
  const parsed = parseListenAddress(address);
  const interceptors: Interceptor[] = token
    ? [
        (next) => (req) => {
          req.header.set('authorization', `Bearer ${token}`);
          return next(req);
        },
      ]
    : [];
  const baseUrl = parsed.kind === 'unix' ? 'http://localhost' : `http://${address}`;
  const sessionManager = new Http2SessionManager(
    baseUrl,
    { idleConnectionTimeoutMs: 30_000 },
    parsed.kind === 'unix' ? { createConnection: () => connect(parsed.path) } : {},
  );
  const transport = createConnectTransport({ baseUrl, httpVersion: '2', sessionManager, interceptors });
  return { client: createClient(HostAgentService, transport), close: () => sessionManager.abort() };
}
