import type { SandboxRow } from '../services/sandbox-view.js';
import type { E2bSettings } from './settings-store.js';

/**
 * The envd version the SDK sees. e2b@2.51.0 gates features on it: 0.6.3 switches on exactly what Amber's
 * envd implements (stdin and closeStdin, default user, octet-stream and gzip uploads, file metadata,
 * recursive watches with entries) and leaves `allowNetworkMounts` (0.6.4) off. Plain semver: a suffix
 * would sort below 0.6.3.
 */
export const ENVD_VERSION = '0.6.3';
export const CLIENT_ID = 'amber';
const DISK_SIZE_MB = 2048;

/** E2B knows two states; Amber's transitional ones read as the state they lead to or from. */
export type E2bState = 'running' | 'paused';
export const AMBER_STATES: Record<E2bState, string[]> = {
  running: ['starting', 'running', 'resuming'],
  paused: ['pausing', 'paused'],
};

export function e2bState(state: string): E2bState | undefined {
  if (AMBER_STATES.running.includes(state)) return 'running';
  if (AMBER_STATES.paused.includes(state)) return 'paused';
  return undefined;
}

export const templateIdOf = (row: SandboxRow) => row.template ?? 'base';

/** `domain: null` lets the user's E2B_DOMAIN apply to getHost(); AMBER_E2B_DOMAIN answers one instead. */
const domain = () => process.env.AMBER_E2B_DOMAIN || null;

function endAt(row: SandboxRow): string {
  const end = row.expires_at ?? Date.now() + Number(row.timeout_sec) * 1000;
  return new Date(Number(end)).toISOString();
}

/** `Sandbox` (create, connect, fork). */
export function sandboxShape(row: SandboxRow, settings: E2bSettings) {
  return {
    sandboxID: row.id,
    templateID: templateIdOf(row),
    alias: templateIdOf(row),
    clientID: CLIENT_ID,
    envdVersion: ENVD_VERSION,
    envdAccessToken: settings.accessToken,
    trafficAccessToken: null,
    domain: domain(),
  };
}

/** `ListedSandbox`. */
export function listedShape(row: SandboxRow) {
  return {
    sandboxID: row.id,
    templateID: templateIdOf(row),
    alias: templateIdOf(row),
    clientID: CLIENT_ID,
    startedAt: new Date(Number(row.created_at)).toISOString(),
    endAt: endAt(row),
    cpuCount: Number(row.vcpus),
    memoryMB: Number(row.memory_mb),
    diskSizeMB: DISK_SIZE_MB,
    envdVersion: ENVD_VERSION,
    state: e2bState(row.state) ?? 'running',
    metadata: JSON.parse(row.metadata) as Record<string, string>,
  };
}

/** `SandboxDetail` (getInfo). */
export function detailShape(row: SandboxRow, settings: E2bSettings | undefined) {
  return {
    ...listedShape(row),
    ...(settings && { envdAccessToken: settings.accessToken }),
    domain: domain(),
    ...networkShape(row.network),
    lifecycle: {
      onTimeout: row.on_timeout === 'pause' ? 'pause' : 'kill',
      autoResume: settings?.autoResume ?? false,
    },
  };
}

/** The rules as E2B shows them; no internet access is a denyOut of everything with nothing allowed. */
function networkShape(json: string | null) {
  if (!json) return { allowInternetAccess: true };
  const network = JSON.parse(json) as { allowOut: string[]; denyOut: string[] };
  const closed = network.denyOut.includes('0.0.0.0/0') && network.allowOut.length === 0;
  return { allowInternetAccess: !closed, network };
}
