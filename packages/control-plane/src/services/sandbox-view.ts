import type { Selectable } from 'kysely';
import type { SandboxesTable } from '../db/schema.js';

export type SandboxState = 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'stopped' | 'error';
export const SANDBOX_STATES: SandboxState[] = [
  'starting',
  'running',
  'pausing',
  'paused',
  'resuming',
  'stopped',
  'error',
];
export type OnTimeout = 'kill' | 'pause';

export type SandboxRow = Selectable<SandboxesTable>;

/** The API's `Sandbox` object. */
export interface SandboxView {
  id: string;
  state: SandboxState;
  template: string | null;
  vcpus: number;
  memoryMb: number;
  metadata: Record<string, string>;
  createdAt: string;
  expiresAt: string | null;
  timeoutSec: number;
  onTimeout: OnTimeout;
  error: string | null;
  /** Outbound rules (CIDRs); null: none, everything the host allows is reachable. */
  network: NetworkRules | null;
}

export interface NetworkRules {
  allowOut: string[];
  denyOut: string[];
}

export function toSandboxView(row: SandboxRow): SandboxView {
  return {
    id: row.id,
    state: row.state as SandboxState,
    template: row.template,
    vcpus: Number(row.vcpus),
    memoryMb: Number(row.memory_mb),
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    createdAt: new Date(Number(row.created_at)).toISOString(),
    expiresAt: row.expires_at === null ? null : new Date(Number(row.expires_at)).toISOString(),
    timeoutSec: Number(row.timeout_sec),
    onTimeout: row.on_timeout as OnTimeout,
    error: row.error,
    network: row.network ? (JSON.parse(row.network) as NetworkRules) : null,
  };
}
