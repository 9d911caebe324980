import { randomBytes } from 'node:crypto';
import type { KeyedMutex } from '@amber/host-agent';
import type { Snapshot as AgentSnapshot } from '@amber/proto/hostagent';
import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { Database, TemplatesTable } from '../db/schema.js';
import { ApiError, notFound } from '../errors.js';
import { agentCall, isNotFound } from './agent-errors.js';
import type { AgentLink } from './agent-link.js';
import type { SandboxStore } from './sandbox-store.js';

export const BASE_TEMPLATE = 'base';
export const DEFAULT_SHAPE = { vcpus: 1, memoryMb: 512 };

export type TemplateRow = Selectable<TemplatesTable>;

export interface SnapshotView {
  name: string;
  sandboxId: string | null;
  vcpus: number;
  memoryMb: number;
  createdAt: string;
  builtIn: boolean;
  /** Bytes of guest memory the template holds; null when not known (the agent cannot say). */
  memoryBytes: number | null;
  /** Bytes its own disk layers take on the host (allocated, without the base image); null when not known. */
  diskBytes: number | null;
}

/** Bigint columns come back as strings from PostgreSQL. */
const bytesOf = (value: number | string | null): number | null => (value === null ? null : Number(value));

export function toSnapshotView(row: TemplateRow): SnapshotView {
  return {
    name: row.name,
    sandboxId: row.source_sandbox_id,
    vcpus: Number(row.vcpus),
    memoryMb: Number(row.memory_mb),
    createdAt: new Date(Number(row.created_at)).toISOString(),
    builtIn: Number(row.built_in) === 1,
    memoryBytes: bytesOf(row.memory_bytes),
    diskBytes: bytesOf(row.disk_bytes),
  };
}

/** The sizes an agent reports; 0 is an agent too old to measure (proto3's default), so unknown. */
function sizesOf(snapshot: AgentSnapshot | undefined): Pick<TemplateRow, 'memory_bytes' | 'disk_bytes'> {
  const known = (n: bigint | undefined) => (n ? Number(n) : null);
  return { memory_bytes: known(snapshot?.memoryBytes), disk_bytes: known(snapshot?.diskBytes) };
}

/** Built-in templates belong to no team. */
const BUILT_IN_TEAM = '';

/**
 * Templates ("snapshots" in the API): per-team names mapped to agent-wide names, plus the built-in `base`
 * (the image booted once and frozen, one per vcpus x memory shape, because a snapshot's memory size is fixed).
 */
export class TemplateService {
  private readonly building = new Map<string, Promise<string>>();
  /** Agent sandboxes being booted to make a base; the reconciler leaves them alone. */
  readonly builders = new Set<string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly agent: AgentLink,
    private readonly sandboxes: SandboxStore,
    private readonly locks: KeyedMutex,
    private readonly log: Logger,
  ) {}

  private baseName(vcpus: number, memoryMb: number): string {
    return `base-${vcpus}c${memoryMb}m-${this.agent.imageId.replace(/[^a-z0-9]/g, '').slice(0, 16)}`;
  }

  /** The agent name of the base for this shape, booting and freezing it first if needed (once per shape). */
  ensureBase(vcpus: number, memoryMb: number): Promise<string> {
    const name = this.baseName(vcpus, memoryMb);
    let pending = this.building.get(name);
    if (!pending) {
      pending = this.buildBase(name, vcpus, memoryMb).finally(() => {
        if (this.building.get(name) === pending) this.building.delete(name);
      });
      this.building.set(name, pending);
    }
    return pending;
  }

  private async buildBase(name: string, vcpus: number, memoryMb: number): Promise<string> {
    const known = await this.db
      .selectFrom('templates')
      .select('agent_name')
      .where('team_id', '=', BUILT_IN_TEAM)
      .where('agent_name', '=', name)
      .executeTakeFirst();
    const onAgent = await agentCall(() => this.agent.client.listSnapshots({}));
    let onAgentNow = onAgent.snapshots.find((s) => s.name === name);
    if (known && onAgentNow) return name;
    const started = Date.now();
    const { sandbox } = await agentCall(() =>
      this.agent.client.createSandbox({
        spec: { vcpus, memoryMib: memoryMb, ttlSeconds: 3600, template: '' },
      }),
    );
    if (!sandbox) throw new ApiError('internal', 'the agent returned no sandbox');
    this.builders.add(sandbox.id);
    try {
      if (!onAgentNow) {
        const made = await agentCall(() => this.agent.client.createSnapshot({ sandboxId: sandbox.id, name }));
        onAgentNow = made.snapshot;
      }
    } finally {
      await this.agent.client.destroySandbox({ sandboxId: sandbox.id }).catch((err) => {
        if (!isNotFound(err)) this.log.warn({ err, sandbox: sandbox.id }, 'could not destroy a base builder');
      });
      this.builders.delete(sandbox.id);
    }
    await this.db
      .deleteFrom('templates')
      .where('team_id', '=', BUILT_IN_TEAM)
      .where('name', '=', name)
      .execute();
    await this.db
      .insertInto('templates')
      .values({
        team_id: BUILT_IN_TEAM,
        name,
        agent_name: name,
        host_id: this.agent.hostId,
        source_sandbox_id: null,
        vcpus,
        memory_mb: memoryMb,
        built_in: 1,
        image_id: this.agent.imageId,
        created_at: Date.now(),
        ...sizesOf(onAgentNow),
      })
      .execute();
    this.log.info({ template: name, ms: Date.now() - started }, 'built-in base template made');
    return name;
  }

  /** Bases of an older image are of no more use: a create always spawns from the current image's. */
  async dropStaleBases(): Promise<void> {
    const stale = await this.db
      .selectFrom('templates')
      .selectAll()
      .where('team_id', '=', BUILT_IN_TEAM)
      .where('image_id', '!=', this.agent.imageId)
      .execute();
    for (const row of stale) {
      await this.agent.client.deleteSnapshot({ name: row.agent_name }).catch((err) => {
        if (!isNotFound(err))
          this.log.warn({ err, template: row.agent_name }, 'could not delete a stale base');
      });
      await this.db
        .deleteFrom('templates')
        .where('team_id', '=', BUILT_IN_TEAM)
        .where('name', '=', row.name)
        .execute();
    }
  }

  async find(teamId: string, name: string): Promise<TemplateRow | undefined> {
    return this.db
      .selectFrom('templates')
      .selectAll()
      .where('team_id', '=', teamId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  private baseRow(): Promise<TemplateRow | undefined> {
    return this.db
      .selectFrom('templates')
      .selectAll()
      .where('team_id', '=', BUILT_IN_TEAM)
      .where('agent_name', '=', this.baseName(DEFAULT_SHAPE.vcpus, DEFAULT_SHAPE.memoryMb))
      .executeTakeFirst();
  }

  private baseView(row: TemplateRow | undefined): SnapshotView {
    return {
      name: BASE_TEMPLATE,
      sandboxId: null,
      vcpus: DEFAULT_SHAPE.vcpus,
      memoryMb: DEFAULT_SHAPE.memoryMb,
      createdAt: new Date(Number(row?.created_at ?? Date.now())).toISOString(),
      builtIn: true,
      memoryBytes: bytesOf(row?.memory_bytes ?? null),
      diskBytes: bytesOf(row?.disk_bytes ?? null),
    };
  }

  async list(teamId: string): Promise<SnapshotView[]> {
    const rows = await this.db
      .selectFrom('templates')
      .selectAll()
      .where('team_id', '=', teamId)
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    const [base, ...own] = await this.withSizes([await this.baseRow(), ...rows]);
    return [this.baseView(base), ...(own as TemplateRow[]).map(toSnapshotView)];
  }

  async get(teamId: string, name: string): Promise<SnapshotView> {
    if (name === BASE_TEMPLATE) return this.baseView((await this.withSizes([await this.baseRow()]))[0]);
    const row = await this.find(teamId, name);
    if (!row) throw notFound('snapshot', name);
    return toSnapshotView((await this.withSizes([row]))[0] as TemplateRow);
  }

  /**
   * Rows made before the sizes were recorded (migration 0004) get them from the agent, once: a template's
   * files never change. With the agent out of reach the sizes stay unknown (null) and the list still works.
   */
  private async withSizes(rows: (TemplateRow | undefined)[]): Promise<(TemplateRow | undefined)[]> {
    const missing = rows.filter(
      (r): r is TemplateRow => !!r && (r.memory_bytes === null || r.disk_bytes === null),
    );
    if (missing.length === 0) return rows;
    let onAgent: AgentSnapshot[];
    try {
      onAgent = (await agentCall(() => this.agent.client.listSnapshots({}))).snapshots;
    } catch (err) {
      this.log.warn({ err }, 'template sizes unknown: the agent could not list its templates');
      return rows;
    }
    const filled = new Map<TemplateRow, TemplateRow>();
    for (const row of missing) {
      const sizes = sizesOf(onAgent.find((s) => s.name === row.agent_name));
      if (sizes.memory_bytes === null || sizes.disk_bytes === null) continue;
      await this.db
        .updateTable('templates')
        .set(sizes)
        .where('team_id', '=', row.team_id)
        .where('name', '=', row.name)
        .where('agent_name', '=', row.agent_name)
        .execute();
      filled.set(row, { ...row, ...sizes });
    }
    return rows.map((r) => (r && filled.get(r)) ?? r);
  }

  async create(
    teamId: string,
    input: { sandboxId: string; name: string; overwrite?: boolean },
  ): Promise<SnapshotView> {
    if (input.name === BASE_TEMPLATE) {
      throw new ApiError('invalid_argument', `"${BASE_TEMPLATE}" is the built-in template's name`);
    }
    return this.locks.run(`template:${teamId}:${input.name}`, async () => {
      const existing = await this.find(teamId, input.name);
      if (existing && !input.overwrite) {
        throw new ApiError(
          'already_exists',
          `snapshot ${input.name} already exists (pass overwrite: true to replace it)`,
        );
      }
      const sandbox = await this.sandboxes.get(teamId, input.sandboxId);
      const agentName = `u-${randomBytes(12).toString('hex')}`;
      const made = await this.locks.run(sandbox.id, async () => {
        const current = await this.sandboxes.get(teamId, input.sandboxId);
        if (current.state !== 'running' && current.state !== 'paused') {
          throw new ApiError('invalid_state', `sandbox ${current.id} is ${current.state}`);
        }
        return agentCall(() => this.agent.client.createSnapshot({ sandboxId: sandbox.id, name: agentName }));
      });
      const row: TemplateRow = {
        team_id: teamId,
        name: input.name,
        agent_name: agentName,
        host_id: this.agent.hostId,
        source_sandbox_id: sandbox.id,
        vcpus: made.snapshot?.vcpus ?? sandbox.vcpus,
        memory_mb: made.snapshot?.memoryMib ?? sandbox.memory_mb,
        built_in: 0,
        image_id: this.agent.imageId,
        created_at: Date.now(),
        ...sizesOf(made.snapshot),
      };
      await this.db.transaction().execute(async (tx) => {
        await tx
          .deleteFrom('templates')
          .where('team_id', '=', teamId)
          .where('name', '=', input.name)
          .execute();
        await tx.insertInto('templates').values(row).execute();
      });
      if (existing) await this.dropAgentTemplate(existing.agent_name);
      return toSnapshotView(row);
    });
  }

  async remove(teamId: string, name: string): Promise<void> {
    if (name === BASE_TEMPLATE) {
      throw new ApiError('invalid_argument', `the built-in template ${BASE_TEMPLATE} cannot be deleted`);
    }
    await this.locks.run(`template:${teamId}:${name}`, async () => {
      const row = await this.find(teamId, name);
      if (!row) throw notFound('snapshot', name);
      await this.dropAgentTemplate(row.agent_name);
      await this.db.deleteFrom('templates').where('team_id', '=', teamId).where('name', '=', name).execute();
    });
  }

  /** Sandboxes spawned from it keep their own links to its files (the agent reference-counts them). */
  private async dropAgentTemplate(agentName: string): Promise<void> {
    try {
      await this.agent.client.deleteSnapshot({ name: agentName });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
