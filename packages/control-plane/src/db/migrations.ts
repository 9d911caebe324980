import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/**
 * One set of migrations for both databases: only types both understand (text, integer, bigint); the one
 * difference, an auto-increment key, is chosen by dialect. Never edit a migration that has shipped.
 */
function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('teams')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .execute();
        await db.schema
          .createTable('hosts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('image_id', 'text', (c) => c.notNull())
          .addColumn('memory_budget_mib', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('sandboxes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
          .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id'))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('template', 'text')
          .addColumn('vcpus', 'integer', (c) => c.notNull())
          .addColumn('memory_mb', 'integer', (c) => c.notNull())
          .addColumn('metadata', 'text', (c) => c.notNull())
          .addColumn('envs', 'text', (c) => c.notNull())
          .addColumn('timeout_sec', 'integer', (c) => c.notNull())
          .addColumn('on_timeout', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('error', 'text')
          // Paused by a graceful stop of the control plane and its agent: resumed at the next start.
          .addColumn('resume_on_start', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('sandboxes_team_created')
          .on('sandboxes')
          .columns(['team_id', 'created_at', 'id'])
          .execute();
        await db.schema
          .createIndex('sandboxes_state_expires')
          .on('sandboxes')
          .columns(['state', 'expires_at'])
          .execute();
        await db.schema
          .createTable('templates')
          .addColumn('team_id', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('agent_name', 'text', (c) => c.notNull())
          .addColumn('host_id', 'text', (c) => c.notNull().references('hosts.id'))
          .addColumn('source_sandbox_id', 'text')
          .addColumn('vcpus', 'integer', (c) => c.notNull())
          .addColumn('memory_mb', 'integer', (c) => c.notNull())
          .addColumn('built_in', 'integer', (c) => c.notNull())
          .addColumn('image_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('templates_pk', ['team_id', 'name'])
          .execute();
        await db.schema
          .createTable('events')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('sandbox_id', 'text', (c) => c.notNull())
          .addColumn('team_id', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('state', 'text')
          .addColumn('message', 'text')
          .addColumn('at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_sandbox').on('events').columns(['sandbox_id', 'id']).execute();
      },
    },
    // What E2B's API knows of a sandbox beyond Amber's row (e2b/settings-store.ts).
    '0002_e2b_sandboxes': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('e2b_sandboxes')
          .ifNotExists()
          .addColumn('sandbox_id', 'text', (c) => c.primaryKey())
          .addColumn('team_id', 'text', (c) => c.notNull())
          .addColumn('access_token', 'text', (c) => c.notNull())
          .addColumn('auto_resume', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    // A sandbox's outbound rules (network allowOut/denyOut), JSON; null: none.
    '0003_sandbox_network': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('sandboxes').addColumn('network', 'text').execute();
      },
    },
    // What a template holds (memory data, its own disk layers), as the agent measured it at creation;
    // null in rows made before: filled in from the agent at the next list (services/templates.ts).
    '0004_template_sizes': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('templates').addColumn('memory_bytes', 'bigint').execute();
        await db.schema.alterTable('templates').addColumn('disk_bytes', 'bigint').execute();
      },
    },
  };
}

class StaticProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations() {
    return migrations(this.dialect);
  }
}

export async function migrate(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(
      `database migration ${failed?.migrationName ?? ''} failed: ${(error as Error)?.message}`,
      {
        cause: error,
      },
    );
  }
}
