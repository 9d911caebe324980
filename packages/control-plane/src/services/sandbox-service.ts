import type { KeyedMutex } from '@amber/host-agent';
import type { Sandbox as AgentSandbox } from '@amber/proto/hostagent';
import { SandboxState as AgentState } from '@amber/proto/hostagent';
import type { Logger } from 'pino';
import { ApiError } from '../errors.js';
import { agentCall, fromAgentError, isNotFound } from './agent-errors.js';
import { AGENT_TTL_SECONDS, type AgentLink } from './agent-link.js';
import { checkNetworkRules } from './network-rules.js';
import type { ListQuery, SandboxStore } from './sandbox-store.js';
import {
  type NetworkRules,
  type OnTimeout,
  type SandboxRow,
  type SandboxState,
  type SandboxView,
  toSandboxView,
} from './sandbox-view.js';
import { BASE_TEMPLATE, DEFAULT_SHAPE, type TemplateService } from './templates.js';

export interface CreateSandboxInput {
  template?: string | null;
  vcpus?: number;
  memoryMb?: number;
  timeoutSec?: number;
  metadata?: Record<string, string>;
  envs?: Record<string, string>;
  onTimeout?: OnTimeout;
  /** Outbound rules (allowOut/denyOut); unset: none. */
  network?: { allowOut?: unknown; denyOut?: unknown };
}

export const DEFAULT_TIMEOUT_SEC = 300;

export function invalidState(row: { id: string; state: string }): ApiError {
  return new ApiError('invalid_state', `sandbox ${row.id} is ${row.state}`);
}

/** The agent's view of a sandbox's state, in the API's words. */
export function fromAgentState(state: AgentState): SandboxState {
  switch (state) {
    case AgentState.STARTING:
      return 'starting';
    case AgentState.RUNNING:
      return 'running';
    case AgentState.PAUSING:
      return 'pausing';
    case AgentState.PAUSED:
      return 'paused';
    case AgentState.RESUMING:
      return 'resuming';
    case AgentState.STOPPING:
    case AgentState.STOPPED:
      return 'stopped';
    default:
      return 'error';
  }
}

/**
 * Every lifecycle operation: checks the team and the state in the database, asks the agent, records the
 * outcome. Operations on one sandbox are serialised; the database row is written only after the agent has
 * done its part, so a failure leaves nothing half-made.
 */
export class SandboxService {
  /** Sandboxes with an exec or a stream in flight: their timeout waits until the last one ends. */
  private readonly inUse = new Map<string, number>();
  /** Agent sandboxes made but not yet in the database; the reconciler leaves them alone. */
  readonly creating = new Set<string>();

  constructor(
    readonly store: SandboxStore,
    readonly templates: TemplateService,
    private readonly agent: AgentLink,
    readonly locks: KeyedMutex,
    private readonly log: Logger,
  ) {}

  async create(teamId: string, input: CreateSandboxInput): Promise<SandboxView> {
    const network = checkNetworkRules(input.network ?? {});
    let template: string | null;
    let agentTemplate = '';
    let vcpus = input.vcpus ?? DEFAULT_SHAPE.vcpus;
    let memoryMb = input.memoryMb ?? DEFAULT_SHAPE.memoryMb;
    if (input.template === null) {
      template = null;
    } else if (input.template === undefined || input.template === BASE_TEMPLATE) {
      template = BASE_TEMPLATE;
      agentTemplate = await this.templates.ensureBase(vcpus, memoryMb);
    } else {
      const row = await this.templates.find(teamId, input.template);
      if (!row) throw new ApiError('not_found', `snapshot ${input.template} not found`);
      for (const [field, asked, locked] of [
        ['vcpus', input.vcpus, row.vcpus],
        ['memoryMb', input.memoryMb, row.memory_mb],
      ] as const) {
        if (asked !== undefined && asked !== Number(locked)) {
          throw new ApiError(
            'invalid_argument',
            `${field} is locked to ${locked} by snapshot ${row.name}; omit it or ask for ${locked}`,
          );
        }
      }
      template = row.name;
      agentTemplate = row.agent_name;
      vcpus = Number(row.vcpus);
      memoryMb = Number(row.memory_mb);
    }
    const metadata = input.metadata ?? {};
    const made = await agentCall(() =>
      this.agent.client.createSandbox({
        spec: {
          vcpus,
          memoryMib: memoryMb,
          ttlSeconds: AGENT_TTL_SECONDS,
          template: agentTemplate,
          metadata,
          ...(network && { egress: network }),
        },
      }),
    );
    return this.record(teamId, made.sandbox, {
      template,
      metadata,
      network,
      envs: input.envs ?? {},
      timeoutSec: input.timeoutSec ?? DEFAULT_TIMEOUT_SEC,
      onTimeout: input.onTimeout ?? 'kill',
    });
  }

  /** Inserts the row for a sandbox the agent has made; if that fails, the agent's sandbox goes too. */
  private async record(
    teamId: string,
    sandbox: AgentSandbox | undefined,
    settings: {
      template: string | null;
      metadata: Record<string, string>;
      envs: Record<string, string>;
      timeoutSec: number;
      onTimeout: OnTimeout;
      network: NetworkRules | null;
    },
  ): Promise<SandboxView> {
    if (!sandbox) throw new ApiError('internal', 'the host agent returned no sandbox');
    this.creating.add(sandbox.id);
    const now = Date.now();
    const row: SandboxRow = {
      id: sandbox.id,
      team_id: teamId,
      host_id: this.agent.hostId,
      state: 'running',
      template: settings.template,
      vcpus: sandbox.vcpus,
      memory_mb: sandbox.memoryMib,
      metadata: JSON.stringify(settings.metadata),
      envs: JSON.stringify(settings.envs),
      timeout_sec: settings.timeoutSec,
      on_timeout: settings.onTimeout,
      created_at: now,
      expires_at: now + settings.timeoutSec * 1000,
      error: null,
      resume_on_start: 0,
      updated_at: now,
      network: settings.network ? JSON.stringify(settings.network) : null,
    };
    try {
      await this.store.insert(row);
    } catch (err) {
      await this.agent.client.destroySandbox({ sandboxId: sandbox.id }).catch((destroyErr) => {
        this.log.error(
          { err: destroyErr, sandbox: sandbox.id },
          'could not destroy a sandbox whose row failed',
        );
      });
      throw err;
    } finally {
      this.creating.delete(sandbox.id);
    }
    return toSandboxView(row);
  }

  async get(teamId: string, id: string): Promise<SandboxView> {
    return toSandboxView(await this.store.get(teamId, id));
  }

  async list(
    teamId: string,
    query: ListQuery,
  ): Promise<{ sandboxes: SandboxView[]; nextToken: string | null }> {
    const { rows, nextToken } = await this.store.list(teamId, query);
    return { sandboxes: rows.map(toSandboxView), nextToken };
  }

  /** Frees everything on the agent; the row goes (its events stay). A sandbox the agent lost is just forgotten. */
  async remove(teamId: string, id: string): Promise<void> {
    await this.store.get(teamId, id);
    await this.locks.run(id, () => this.destroy(id, 'deleted'));
  }

  /** Caller holds the sandbox's lock. */
  async destroy(id: string, reason: string): Promise<void> {
    try {
      await this.agent.client.destroySandbox({ sandboxId: id });
    } catch (err) {
      if (!isNotFound(err)) throw await this.afterFailure(id, err);
    }
    await this.store.remove(id, reason);
  }

  /** After a failed agent call: the row takes the agent's state, so it never claims what is not so. */
  private async afterFailure(id: string, err: unknown): Promise<ApiError> {
    try {
      const { sandbox } = await this.agent.client.getSandbox({ sandboxId: id });
      if (sandbox) {
        const state = fromAgentState(sandbox.state);
        await this.store.update(id, {
          state,
          ...(state !== 'running' && { expires_at: null }),
          ...(sandbox.error && { error: sandbox.error }),
        });
      }
    } catch (getErr) {
      if (isNotFound(getErr))
        await this.store.update(id, {
          state: 'stopped',
          expires_at: null,
          error: 'the host agent no longer has it',
        });
      else this.log.warn({ err: getErr, sandbox: id }, 'could not read the agent state after a failure');
    }
    return fromAgentError(err);
  }

  async pause(teamId: string, id: string): Promise<SandboxView> {
    await this.store.get(teamId, id);
    return this.locks.run(id, () => this.pauseLocked(id, 'paused'));
  }

  /** Caller holds the lock. The agent syncs the guest's filesystems before it stops the VM. */
  async pauseLocked(id: string, reason: string): Promise<SandboxView> {
    const row = await this.mustFind(id);
    if (row.state !== 'running') throw invalidState(row);
    await this.store.update(id, { state: 'pausing' });
    try {
      await this.agent.client.pauseSandbox({ sandboxId: id });
    } catch (err) {
      throw await this.afterFailure(id, err);
    }
    const paused = await this.store.update(id, { state: 'paused', expires_at: null }, { type: reason });
    return toSandboxView(paused ?? row);
  }

  async resume(teamId: string, id: string): Promise<SandboxView> {
    await this.store.get(teamId, id);
    return this.locks.run(id, async () => {
      const row = await this.mustFind(id);
      if (row.state !== 'paused') throw invalidState(row);
      await this.store.update(id, { state: 'resuming' });
      try {
        await this.agent.client.resumeSandbox({ sandboxId: id, ttlSeconds: AGENT_TTL_SECONDS });
      } catch (err) {
        throw await this.afterFailure(id, err);
      }
      // Its own timeout, never a default: paused time did not count.
      const resumed = await this.store.update(id, {
        state: 'running',
        expires_at: Date.now() + Number(row.timeout_sec) * 1000,
      });
      return toSandboxView(resumed ?? row);
    });
  }

  /**
   * Replaces the sandbox's outbound rules, all of them (E2B's updateNetwork). A running sandbox's apply at
   * once; a paused one's on resume.
   */
  async updateNetwork(
    teamId: string,
    id: string,
    input: { allowOut?: unknown; denyOut?: unknown },
  ): Promise<SandboxView> {
    const network = checkNetworkRules(input);
    await this.store.get(teamId, id);
    return this.locks.run(id, async () => {
      const row = await this.mustFind(id);
      if (row.state !== 'running' && row.state !== 'paused') throw invalidState(row);
      await agentCall(() =>
        this.agent.client.updateEgressRules({
          sandboxId: id,
          rules: network ?? { allowOut: [], denyOut: [] },
        }),
      );
      const updated = await this.store.update(
        id,
        { network: network ? JSON.stringify(network) : null },
        { type: 'network', message: JSON.stringify(network ?? {}) },
      );
      return toSandboxView(updated ?? row);
    });
  }

  async setTimeout(teamId: string, id: string, timeoutSec: number): Promise<SandboxView> {
    await this.store.get(teamId, id);
    return this.locks.run(id, async () => {
      const row = await this.mustFind(id);
      if (row.state === 'paused') {
        return toSandboxView((await this.store.update(id, { timeout_sec: timeoutSec })) ?? row);
      }
      if (row.state !== 'running') throw invalidState(row);
      const updated = await this.store.update(id, {
        timeout_sec: timeoutSec,
        expires_at: Date.now() + timeoutSec * 1000,
      });
      return toSandboxView(updated ?? row);
    });
  }

  async fork(teamId: string, id: string, count: number): Promise<SandboxView[]> {
    const source = await this.store.get(teamId, id);
    const forks = await this.locks.run(id, async () => {
      const row = await this.mustFind(id);
      if (row.state !== 'running' && row.state !== 'paused') throw invalidState(row);
      return agentCall(() =>
        this.agent.client.forkSandbox({ sandboxId: id, count, ttlSeconds: AGENT_TTL_SECONDS }),
      );
    });
    const views: SandboxView[] = [];
    for (const fork of forks.sandboxes) {
      views.push(
        await this.record(teamId, fork, {
          template: source.template,
          metadata: JSON.parse(source.metadata) as Record<string, string>,
          envs: JSON.parse(source.envs) as Record<string, string>,
          timeoutSec: Number(source.timeout_sec),
          onTimeout: source.on_timeout as OnTimeout,
          // The agent gives forks their source's rules.
          network: source.network ? (JSON.parse(source.network) as NetworkRules) : null,
        }),
      );
    }
    return views;
  }

  /**
   * For exec, files and streams: the sandbox must be running; its timeout restarts now and again when the
   * work ends, and the timeout policy leaves it alone while the work runs.
   */
  async use<T>(teamId: string, id: string, work: (row: SandboxRow) => Promise<T>): Promise<T> {
    const row = await this.store.get(teamId, id);
    if (row.state !== 'running') throw invalidState(row);
    this.inUse.set(id, (this.inUse.get(id) ?? 0) + 1);
    try {
      await this.store.extend(id, Number(row.timeout_sec));
      return await work(row);
    } finally {
      const left = (this.inUse.get(id) ?? 1) - 1;
      if (left === 0) this.inUse.delete(id);
      else this.inUse.set(id, left);
      await this.store.extend(id, Number(row.timeout_sec)).catch((err) => {
        this.log.warn({ err, sandbox: id }, 'could not extend the timeout after use');
      });
    }
  }

  isInUse(id: string): boolean {
    return this.inUse.has(id);
  }

  private async mustFind(id: string): Promise<SandboxRow> {
    const row = await this.store.find(id);
    if (!row) throw new ApiError('not_found', `sandbox ${id} not found`);
    return row;
  }
}
