import type { Logger } from 'pino';
import { ApiError } from '../errors.js';
import type { ApiContext } from '../http/context.js';
import type { AgentLink } from '../services/agent-link.js';
import type { SandboxRow } from '../services/sandbox-view.js';
import { E2bError } from './e2b-error.js';
import { type SignedFile, signedWith } from './file-signature.js';
import { GuestPool } from './guest-pool.js';
import { type GuestTarget, guestJson } from './guest-proxy.js';
import { type E2bSettings, type E2bSettingsStore, newAccessToken } from './settings-store.js';
import { e2bState } from './shapes.js';

export const ENVD_PORT = 49983;
const WAIT_STEP_MS = 200;
/** A resume on an emulated host can take a while; beyond this a waiting proxy request gives up. */
const WAIT_LIMIT_MS = 5 * 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface CreateSettings {
  envVars: Record<string, string>;
  autoResume: boolean;
}

/**
 * E2B's operations on top of the /v1 services (no lifecycle of its own): the extra state is only the envd
 * access token and the auto-resume flag.
 */
export class E2bService {
  readonly settings: E2bSettingsStore;

  /** Keep-alive tunnel connections for the envd proxy (see guest-pool.ts). */
  readonly pool = new GuestPool();

  constructor(
    readonly ctx: ApiContext,
    readonly agent: AgentLink,
    settings: E2bSettingsStore,
    readonly log: Logger,
  ) {
    this.settings = settings;
  }

  target(sandboxId: string, port = ENVD_PORT): GuestTarget {
    return { tunnelPath: this.agent.tunnelPath, sandboxId, port };
  }

  /** A sandbox of this team that E2B would call alive (running or paused), else its 404. */
  async row(teamId: string, id: string): Promise<SandboxRow> {
    const row = await this.ctx.sandboxes.store.find(id);
    if (!row || row.team_id !== teamId || !e2bState(row.state))
      throw new E2bError(404, `sandbox ${id} not found`);
    return row;
  }

  /** Settings for a sandbox just made: envd's sandbox-wide env vars (its /init), then the token. */
  async adopt(teamId: string, sandboxId: string, made: CreateSettings): Promise<E2bSettings> {
    if (Object.keys(made.envVars).length > 0) {
      const answer = await guestJson(this.target(sandboxId), 'POST', '/init', { envVars: made.envVars });
      if (answer.status !== 204 && answer.status !== 200)
        throw new E2bError(500, `envd refused the env vars: ${JSON.stringify(answer.json)}`);
    }
    const settings = {
      sandboxId,
      teamId,
      accessToken: newAccessToken(),
      autoResume: made.autoResume,
    };
    await this.settings.put(settings);
    return settings;
  }

  /** Resumes a paused sandbox (waiting out a pause or resume in flight); true if this call resumed it. */
  async ensureRunning(teamId: string, id: string): Promise<boolean> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const row = await this.row(teamId, id);
      if (row.state === 'running') return false;
      if (row.state === 'paused') {
        try {
          await this.ctx.sandboxes.resume(teamId, id);
          return true;
        } catch (err) {
          // Another request resumed it first.
          if (!(err instanceof ApiError && err.code === 'invalid_state')) throw err;
        }
      }
      if (Date.now() > deadline) throw new E2bError(504, `sandbox ${id} stayed ${row.state}`);
      await sleep(WAIT_STEP_MS);
    }
  }

  /**
   * The sandbox whose token signed a pre-signed file URL, which names none: one SHA-256 per sandbox with
   * a token, so only a URL that verifies is ever routed.
   */
  async signedFileSandbox(file: SignedFile): Promise<string> {
    for (const { sandboxId, accessToken } of await this.settings.tokens()) {
      if (signedWith(file, accessToken)) return sandboxId;
    }
    throw new E2bError(401, 'the file URL has an invalid or expired signature');
  }

  /**
   * Where an envd-proxy request goes. 502 for an unknown, killed or paused-without-auto-resume sandbox
   * (the SDK reads 502 as "not running"), 401 for a wrong access token. `signed`: a pre-signed file URL
   * stands in for the token on that one file.
   */
  async proxyTarget(
    sandboxId: string,
    port: number,
    credentials: { token?: string; signed?: SignedFile },
    path: string,
  ) {
    const settings = await this.settings.get(sandboxId);
    const row = await this.ctx.sandboxes.store.find(sandboxId);
    if (!settings || !row || !e2bState(row.state))
      throw new E2bError(502, `sandbox ${sandboxId} is not running or does not exist`);
    const authorized =
      credentials.token === settings.accessToken ||
      (credentials.signed !== undefined && signedWith(credentials.signed, settings.accessToken));
    if (port === ENVD_PORT && !path.startsWith('/health') && !authorized)
      throw new E2bError(401, 'missing or invalid envd access token (X-Access-Token)');
    let epoch = Number(row.updated_at);
    if (row.state !== 'running') {
      if (!settings.autoResume && e2bState(row.state) === 'paused')
        throw new E2bError(502, `sandbox ${sandboxId} is paused (it was not created with auto-resume)`);
      await this.ensureRunning(settings.teamId, sandboxId);
      epoch = Number((await this.ctx.sandboxes.store.find(sandboxId))?.updated_at ?? Date.now());
    }
    const target = this.target(sandboxId, port);
    return { ...target, agent: this.pool.agentFor(target.tunnelPath, sandboxId, port, epoch) };
  }

  /** One sample of envd's /metrics as E2B's `SandboxMetric`, or nothing when envd has none. */
  async metrics(sandboxId: string) {
    const answer = await guestJson(this.target(sandboxId), 'GET', '/metrics');
    if (answer.status !== 200 || typeof answer.json !== 'object' || answer.json === null) {
      this.log.warn({ sandbox: sandboxId, status: answer.status }, 'envd gave no metrics');
      return undefined;
    }
    const m = answer.json as Record<string, number>;
    // envd's `ts` is in seconds.
    const seconds = Number(m.ts ?? Math.floor(Date.now() / 1000));
    return {
      timestamp: new Date(seconds * 1000).toISOString(),
      timestampUnix: seconds,
      cpuCount: Number(m.cpu_count ?? 0),
      cpuUsedPct: Number(m.cpu_used_pct ?? 0),
      memUsed: Number(m.mem_used ?? 0),
      memTotal: Number(m.mem_total ?? 0),
      memCache: Number(m.mem_cache ?? 0),
      diskUsed: Number(m.disk_used ?? 0),
      diskTotal: Number(m.disk_total ?? 0),
    };
  }
}
