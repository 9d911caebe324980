import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { type Dialect, migrate } from './migrations.js';
import type { Database } from './schema.js';

export interface Db {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where it lives, for logs (the password of a URL is masked). */
  location: string;
  close(): Promise<void>;
}

// int8 columns hold epoch milliseconds, which fit a JS number exactly.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres';
  }
}

/** PostgreSQL when `databaseUrl` is given, SQLite (WAL) in `home` otherwise; migrated before it is returned. */
export async function openDatabase(options: { home: string; databaseUrl?: string }): Promise<Db> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  let location: string;
  if (options.databaseUrl) {
    dialect = 'postgres';
    location = maskUrl(options.databaseUrl);
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: options.databaseUrl, max: 10 }) }),
    });
  } else {
    dialect = 'sqlite';
    location = join(options.home, 'amber.db');
    const sqlite = new Sqlite(location);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  try {
    await migrate(db as Kysely<unknown>, dialect);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect, location, close: () => db.destroy() };
}
