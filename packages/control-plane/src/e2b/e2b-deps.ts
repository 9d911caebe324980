import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ApiContext } from '../http/context.js';
import type { AgentLink } from '../services/agent-link.js';

/** What the e2b layer uses of the control plane: the /v1 services, the agent's tunnel, the database. */
export interface E2bDeps {
  ctx: ApiContext;
  agent: AgentLink;
  db: Kysely<Database>;
}
