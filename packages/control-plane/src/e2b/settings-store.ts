import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** What E2B's API knows of a sandbox beyond Amber's own row. */
export interface E2bSandboxTable {
  sandbox_id: string;
  team_id: string;
  /** Sent by the SDK as X-Access-Token on every envd call; the proxy checks it. */
  access_token: string;
  auto_resume: number;
  created_at: number;
}

export interface E2bSettings {
  sandboxId: string;
  teamId: string;
  accessToken: string;
  autoResume: boolean;
}

type Db = Kysely<Database & { e2b_sandboxes: E2bSandboxTable }>;

export const newAccessToken = () => randomBytes(24).toString('base64url');

/** The e2b layer's own table (migration 0002): a row goes with its sandbox. */
export class E2bSettingsStore {
  private readonly db: Db;

  constructor(db: Kysely<Database>) {
    this.db = db.withTables<{ e2b_sandboxes: E2bSandboxTable }>();
  }

  async get(sandboxId: string): Promise<E2bSettings | undefined> {
    const row = await this.db
      .selectFrom('e2b_sandboxes')
      .selectAll()
      .where('sandbox_id', '=', sandboxId)
      .executeTakeFirst();
    return (
      row && {
        sandboxId: row.sandbox_id,
        teamId: row.team_id,
        accessToken: row.access_token,
        autoResume: Number(row.auto_resume) === 1,
      }
    );
  }

  async put(settings: E2bSettings): Promise<void> {
    const values = {
      sandbox_id: settings.sandboxId,
      team_id: settings.teamId,
      access_token: settings.accessToken,
      auto_resume: settings.autoResume ? 1 : 0,
      created_at: Date.now(),
    };
    await this.db
      .insertInto('e2b_sandboxes')
      .values(values)
      .onConflict((oc) =>
        oc
          .column('sandbox_id')
          .doUpdateSet({ access_token: values.access_token, auto_resume: values.auto_resume }),
      )
      .execute();
  }

  /** The settings of a sandbox, made (with a fresh token, no auto-resume) when it was made outside /e2b. */
  async ensure(teamId: string, sandboxId: string): Promise<E2bSettings> {
    const known = await this.get(sandboxId);
    if (known) return known;
    const made = { sandboxId, teamId, accessToken: newAccessToken(), autoResume: false };
    await this.put(made);
    return made;
  }

  /** Every sandbox's access token, to find the one that signed a file URL (which names no sandbox). */
  async tokens(): Promise<Array<{ sandboxId: string; accessToken: string }>> {
    const rows = await this.db.selectFrom('e2b_sandboxes').select(['sandbox_id', 'access_token']).execute();
    return rows.map((row) => ({ sandboxId: row.sandbox_id, accessToken: row.access_token }));
  }

  async remove(sandboxId: string): Promise<void> {
    await this.db.deleteFrom('e2b_sandboxes').where('sandbox_id', '=', sandboxId).execute();
  }
}
