import type { Generated } from 'kysely';

/** Times are epoch milliseconds; JSON columns are text; booleans are 0/1 (the same on SQLite and PostgreSQL). */
export interface TeamsTable {
  id: string;
  name: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  team_id: string;
  name: string;
  /** sha256 of the whole key, hex; the key itself is never stored. */
  key_hash: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
}

export interface HostsTable {
  id: string;
  address: string;
  image_id: string;
  memory_budget_mib: number;
  created_at: number;
  last_seen_at: number;
}

export interface SandboxesTable {
  id: string;
  team_id: string;
  host_id: string;
  state: string;
  template: string | null;
  vcpus: number;
  memory_mb: number;
  metadata: string;
  envs: string;
  timeout_sec: number;
  on_timeout: string;
  created_at: number;
  expires_at: number | null;
  error: string | null;
  resume_on_start: number;
  updated_at: number;
  /** Outbound rules as JSON `{allowOut, denyOut}` (IPv4 CIDRs); null: none. */
  network: string | null;
}

export interface TemplatesTable {
  /** Unique per team; built-in templates have team_id ''. */
  team_id: string;
  name: string;
  /** The name the host agent knows it by (agent names are global per host). */
  agent_name: string;
  host_id: string;
  source_sandbox_id: string | null;
  vcpus: number;
  memory_mb: number;
  built_in: number;
  image_id: string;
  created_at: number;
  /** Bytes of memory data and of the template's own disk layers; null until known (rows from before 0004). */
  memory_bytes: number | null;
  disk_bytes: number | null;
}

export interface EventsTable {
  id: Generated<number>;
  sandbox_id: string;
  team_id: string;
  type: string;
  state: string | null;
  message: string | null;
  at: number;
}

export interface Database {
  teams: TeamsTable;
  api_keys: ApiKeysTable;
  hosts: HostsTable;
  sandboxes: SandboxesTable;
  templates: TemplatesTable;
  events: EventsTable;
}
