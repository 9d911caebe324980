import type { HostAgentClient } from '@amber/host-agent';

/** One host agent as the control plane sees it: its RPC client, its guest tunnel and its row in `hosts`. */
export interface AgentLink {
  hostId: string;
  client: HostAgentClient;
  tunnelPath: string;
  imageId: string;
}

/**
 * The agent's own time to live, only a safety net for a control plane that went away: the control plane
 * enforces timeouts itself and pings every running sandbox on each reconcile.
 */
export const AGENT_TTL_SECONDS = 24 * 3600;
