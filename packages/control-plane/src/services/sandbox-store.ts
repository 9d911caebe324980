import { type Kysely, sql, type Updateable } from 'kysely';
import type { Database, SandboxesTable } from '../db/schema.js';
import { ApiError, notFound } from '../errors.js';
import type { SandboxRow, SandboxState } from './sandbox-view.js';
import { EXPIRY_SLACK_MS, UseExtensions } from './use-extensions.js';

export interface ListQuery {
  states?: SandboxState[];
  metadata?: Record<string, string>;
  limit: number;
  /** Opaque to clients: `<createdAt>:<id>` of the last row of the previous page, base64url. */
  nextToken?: string;
}

function decodeToken(token: string): { createdAt: number; id: string } {
  const raw = Buffer.from(token, 'base64url').toString('utf8');
  const colon = raw.indexOf(':');
  const createdAt = Number(raw.slice(0, colon));
  if (colon < 1 || !Number.isSafeInteger(createdAt))
    throw new ApiError('invalid_argument', 'malformed nextToken');
  return { createdAt, id: raw.slice(colon + 1) };
}

const encodeToken = (row: SandboxRow) => Buffer.from(`${row.created_at}:${row.id}`).toString('base64url');

/**
 * Sandbox rows and their event log; every state change goes through `update`, which logs it. Rows are read
 * with the exact expiry of sandboxes in use laid over them (use-extensions.ts).
 */
export class SandboxStore {
  private readonly uses = new UseExtensions();

  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: SandboxRow): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('sandboxes').values(row).execute();
      await tx
        .insertInto('events')
        .values({
          sandbox_id: row.id,
          team_id: row.team_id,
          type: 'created',
          state: row.state,
          message: null,
          at: row.created_at,
        })
        .execute();
    });
  }

  async find(id: string): Promise<SandboxRow | undefined> {
    const row = await this.db.selectFrom('sandboxes').selectAll().where('id', '=', id).executeTakeFirst();
    return row && this.uses.overlay(row);
  }

  /** Another team's sandbox is reported exactly like a missing one. */
  async get(teamId: string, id: string): Promise<SandboxRow> {
    const row = await this.find(id);
    if (!row || row.team_id !== teamId) throw notFound('sandbox', id);
    return row;
  }

  async update(
    id: string,
    changes: Updateable<SandboxesTable>,
    event?: { type: string; message?: string },
  ): Promise<SandboxRow | undefined> {
    const now = Date.now();
    const row = await this.db
      .updateTable('sandboxes')
      .set({ ...changes, updated_at: now })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    // Set outright: the row is the truth again (after the write, so no use recorded meanwhile outlives it).
    const outright =
      changes.state !== undefined || changes.expires_at !== undefined || changes.timeout_sec !== undefined;
    if (outright) this.uses.forget(id);
    if (row && (event || changes.state)) {
      await this.db
        .insertInto('events')
        .values({
          sandbox_id: id,
          team_id: row.team_id,
          type: event?.type ?? 'state',
          state: changes.state ?? null,
          message: event?.message ?? null,
          at: now,
        })
        .execute();
    }
    return row && (outright ? row : this.uses.overlay(row));
  }

  /**
   * Restarts a running sandbox's timeout from now (exec, files, streams: on the path of each): in memory,
   * plus a database write only when the database's bound would no longer cover it, once per
   * `EXPIRY_SLACK_MS` of use. The bound only ever rises here, so concurrent uses cannot lower it.
   */
  async extend(id: string, timeoutSec: number): Promise<void> {
    const now = Date.now();
    const bound = this.uses.record(id, timeoutSec, now);
    if (bound === undefined) return;
    // From the row's own timeout_sec, in case a `…/timeout` changed it since the caller read the row.
    const value = sql<number>`cast(${now + EXPIRY_SLACK_MS} as bigint) + timeout_sec * 1000`;
    await this.db
      .updateTable('sandboxes')
      .set({ expires_at: value })
      .where('id', '=', id)
      .where('state', '=', 'running')
      .where('expires_at', '<', value)
      .execute();
    this.uses.written(id, bound);
  }

  /** At a graceful stop: the exact expiries go to the database, so the next start need not rely on bounds. */
  async writeExactExpiries(): Promise<void> {
    for (const id of this.uses.ids()) {
      const lastUse = this.uses.lastUseOf(id);
      if (lastUse === undefined) continue;
      await this.db
        .updateTable('sandboxes')
        .set({ expires_at: sql<number>`cast(${lastUse} as bigint) + timeout_sec * 1000` })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .execute();
      this.uses.forget(id);
    }
  }

  async remove(id: string, message: string): Promise<void> {
    this.uses.forget(id);
    await this.db.transaction().execute(async (tx) => {
      const row = await tx
        .deleteFrom('sandboxes')
        .where('id', '=', id)
        .returning(['team_id'])
        .executeTakeFirst();
      if (row) {
        await tx
          .insertInto('events')
          .values({
            sandbox_id: id,
            team_id: row.team_id,
            type: 'deleted',
            state: null,
            message,
            at: Date.now(),
          })
          .execute();
      }
    });
  }

  async list(teamId: string, query: ListQuery): Promise<{ rows: SandboxRow[]; nextToken: string | null }> {
    let q = this.db.selectFrom('sandboxes').selectAll().where('team_id', '=', teamId);
    if (query.states && query.states.length > 0) q = q.where('state', 'in', query.states);
    if (query.nextToken) {
      const after = decodeToken(query.nextToken);
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '>', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)]),
        ]),
      );
    }
    q = q.orderBy('created_at').orderBy('id');
    // Metadata is JSON text, filtered here: the same on both databases; a team's sandboxes are few.
    const wanted = Object.entries(query.metadata ?? {});
    const rows: SandboxRow[] = [];
    let more = false;
    for (const raw of await q.execute()) {
      const row = this.uses.overlay(raw);
      if (wanted.length > 0) {
        const metadata = JSON.parse(row.metadata) as Record<string, string>;
        if (!wanted.every(([k, v]) => metadata[k] === v)) continue;
      }
      if (rows.length === query.limit) {
        more = true;
        break;
      }
      rows.push(row);
    }
    const last = rows[rows.length - 1];
    return { rows, nextToken: more && last ? encodeToken(last) : null };
  }

  /** Running sandboxes whose exact expiry has passed (the database's bound is at most the slack later). */
  async expired(now: number): Promise<SandboxRow[]> {
    const rows = await this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('state', '=', 'running')
      .where('expires_at', '<=', now + EXPIRY_SLACK_MS)
      .execute();
    return rows.map((row) => this.uses.overlay(row)).filter((row) => Number(row.expires_at) <= now);
  }

  async onHost(hostId: string): Promise<SandboxRow[]> {
    const rows = await this.db.selectFrom('sandboxes').selectAll().where('host_id', '=', hostId).execute();
    return rows.map((row) => this.uses.overlay(row));
  }

  async toResume(): Promise<SandboxRow[]> {
    return this.db
      .selectFrom('sandboxes')
      .selectAll()
      .where('resume_on_start', '=', 1)
      .where('state', '=', 'paused')
      .execute();
  }

  /** Every team's, or one team's. */
  async countByState(teamId?: string): Promise<Array<{ state: string; count: number }>> {
    let q = this.db.selectFrom('sandboxes').select((eb) => ['state', eb.fn.countAll<number>().as('count')]);
    if (teamId !== undefined) q = q.where('team_id', '=', teamId);
    const rows = await q.groupBy('state').execute();
    return rows.map((r) => ({ state: r.state, count: Number(r.count) }));
  }
}
