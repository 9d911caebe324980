import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { notFound } from '../errors.js';

export interface SandboxEvent {
  type: string;
  /** The state the sandbox entered, or null for an event that is no state change (e.g. `deleted`). */
  state: string | null;
  message: string | null;
  at: string;
}

export interface TransitionTime {
  sandboxId: string;
  operation: 'pause' | 'resume';
  ms: number;
  /** When it finished. */
  at: string;
}

/** What each "-ing" state ends in, and what the pair measures. */
const ENDS: Record<string, { end: string; operation: TransitionTime['operation'] }> = {
  pausing: { end: 'paused', operation: 'pause' },
  resuming: { end: 'running', operation: 'resume' },
};

/** Reads the `events` table (every state change, kept after a sandbox is deleted). */
export class EventLog {
  constructor(private readonly db: Kysely<Database>) {}

  /** The sandbox's last `limit` events, oldest first; a sandbox this team never had is a 404. */
  async forSandbox(teamId: string, sandboxId: string, limit: number): Promise<SandboxEvent[]> {
    const rows = await this.db
      .selectFrom('events')
      .select(['id', 'type', 'state', 'message', 'at'])
      .where('team_id', '=', teamId)
      .where('sandbox_id', '=', sandboxId)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    if (rows.length === 0) throw notFound('sandbox', sandboxId);
    return rows.reverse().map((r) => ({
      type: r.type,
      state: r.state,
      message: r.message,
      at: new Date(Number(r.at)).toISOString(),
    }));
  }

  /**
   * The team's last `limit` pauses and resumes, newest first, timed from the `pausing`/`resuming` row to
   * the `paused`/`running` row that followed it for the same sandbox (a failed one has no such pair).
   */
  async recentTransitions(teamId: string, limit: number): Promise<TransitionTime[]> {
    const rows = await this.db
      .selectFrom('events')
      .select(['id', 'sandbox_id', 'state', 'at'])
      .where('team_id', '=', teamId)
      .where('state', 'in', ['pausing', 'paused', 'resuming', 'running', 'error', 'stopped'])
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit * 4)
      .execute();
    const out: TransitionTime[] = [];
    // Newest first: remember each sandbox's next (later) state, and pair it with an "-ing" state before it.
    const later = new Map<string, { state: string | null; at: number }>();
    for (const row of rows) {
      const next = later.get(row.sandbox_id);
      const pair = row.state ? ENDS[row.state] : undefined;
      if (pair && next && next.state === pair.end) {
        out.push({
          sandboxId: row.sandbox_id,
          operation: pair.operation,
          ms: Number(next.at) - Number(row.at),
          at: new Date(Number(next.at)).toISOString(),
        });
        if (out.length === limit) break;
      }
      later.set(row.sandbox_id, { state: row.state, at: Number(row.at) });
    }
    return out;
  }
}
