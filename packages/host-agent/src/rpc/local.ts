import { HostAgentService } from '@amber/proto/hostagent';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import type { SandboxManager } from '../sandbox-manager.js';
import type { HostAgentConnection } from './client.js';
import { hostAgentRoutes } from './service.js';

/**
 * A client for the agent in this process (the control plane of `amber up`): the same service, the same
 * Connect protocol and errors, but no socket and no HTTP/2 framing in between, which were ~1-2 ms of every
 * call the control plane makes. `serving()` turns false when the agent stops serving, as its socket
 * would close, so no call reaches the manager while it pauses everything for the stop.
 */
export function connectLocalHostAgent(manager: SandboxManager, serving: () => boolean): HostAgentConnection {
  const transport = createRouterTransport(hostAgentRoutes(manager), {
    router: {
      interceptors: [
        (next) => (req) => {
          if (!serving()) throw new ConnectError('the host agent is stopping', Code.Unavailable);
          return next(req);
        },
      ],
    },
  });
  return { client: createClient(HostAgentService, transport), close: () => undefined };
}
