// The control plane's JSON objects, exactly as the REST contract (packages/control-plane/README.md) names
// them. Times stay ISO strings: the SDK hands out what the wire carries, so a browser can put it in a
// table or a store without a conversion step.

export type SandboxState = 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'stopped' | 'error';
export type OnTimeout = 'kill' | 'pause';

export interface SandboxInfo {
  id: string;
  state: SandboxState;
  /** `null` for a cold-booted sandbox. */
  template: string | null;
  vcpus: number;
  memoryMb: number;
  metadata: Record<string, string>;
  createdAt: string;
  /** `null` while the sandbox is not running (paused time does not count). */
  expiresAt: string | null;
  timeoutSec: number;
  onTimeout: OnTimeout;
  error: string | null;
  /** Outbound rules (normalised to CIDRs); `null`: none. */
  network: NetworkRules | null;
}

/**
 * A sandbox's outbound rules. A destination in `allowOut` is reachable whatever `denyOut` says; one in
 * `denyOut` is refused; anything else is reachable. Each `allowOut` entry must overlap a `denyOut` one.
 */
export interface NetworkRules {
  allowOut: string[];
  denyOut: string[];
}

export interface SnapshotInfo {
  name: string;
  sandboxId: string | null;
  vcpus: number;
  memoryMb: number;
  createdAt: string;
  builtIn: boolean;
  /** Bytes of guest memory the snapshot holds; null when the host agent cannot say. */
  memoryBytes: number | null;
  /** Bytes its own disk layers take on the host (allocated; the shared base image not counted); null when unknown. */
  diskBytes: number | null;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** The first characters of the key, to tell keys apart. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Returned once, by `ApiKeys.create`: the full key is never shown again. */
export interface CreatedApiKey extends ApiKeyInfo {
  key: string;
}

export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modifiedAt: string | null;
  symlinkTarget: string | null;
}

export interface ExecResult {
  exitCode: number;
  /** Set when a signal ended the process, e.g. `SIGKILL`. */
  signal: string | null;
  /** `utf8`: stdout and stderr are text; `base64`: the output was not valid UTF-8 and is base64 here. */
  encoding: 'utf8' | 'base64';
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface ExecExit {
  exitCode: number;
  signal: string | null;
}

export interface Health {
  status: string;
  version: string;
}

/** One entry of a sandbox's history (`created`, a state change, `deleted`, a timeout's pause, ...). */
export interface SandboxEvent {
  type: string;
  /** The state it entered; `null` when the event is no state change. */
  state: string | null;
  message: string | null;
  at: string;
}

/** A pause or a resume, timed from its `pausing`/`resuming` state to the state it ended in. */
export interface TransitionTime {
  sandboxId: string;
  operation: 'pause' | 'resume';
  ms: number;
  at: string;
}

/** `GET /v1/host`: one machine's numbers, as the dashboard's Host page shows them. */
export interface HostStats {
  hostId: string;
  accel: string;
  memory: { budgetMib: number; committedMib: number; freeMib: number };
  /** Every sandbox on the host's agent, any team's. */
  agentSandboxes: number;
  /** The key's team's sandboxes, every state present. */
  sandboxesByState: Record<SandboxState, number>;
  /** `null` when the agent's files are on another machine than the control plane. */
  snapshotDisk: { templatesBytes: number; sandboxesBytes: number; totalBytes: number } | null;
  /** Newest first. */
  recentTransitions: TransitionTime[];
}
