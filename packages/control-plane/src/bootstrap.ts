import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import type { KeyStore } from './auth/key-store.js';
import { newId } from './auth/keys.js';
import type { Db } from './db/connect.js';

export const DEFAULT_TEAM_NAME = 'default';

export function apiKeyPath(home: string): string {
  return join(home, 'api-key');
}

async function readKeyFile(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The first start makes a default team and a key for it, written to `$AMBER_HOME/api-key` (0600) for the
 * CLI and SDK of this machine. Keys are stored hashed, so a lost file cannot be re-read: a new key is made.
 */
export async function ensureDefaultKey(
  home: string,
  { db }: Db,
  keys: KeyStore,
): Promise<{ teamId: string; key: string }> {
  let team = await db
    .selectFrom('teams')
    .select('id')
    .where('name', '=', DEFAULT_TEAM_NAME)
    .executeTakeFirst();
  if (!team) {
    team = { id: newId('team') };
    await db
      .insertInto('teams')
      .values({ id: team.id, name: DEFAULT_TEAM_NAME, created_at: Date.now() })
      .execute();
  }
  const path = apiKeyPath(home);
  const existing = await readKeyFile(path);
  if (existing && (await keys.exists(existing))) return { teamId: team.id, key: existing };
  const created = await keys.create(team.id, 'default');
  await writeFileAtomic(path, `${created.key}\n`, 0o600);
  return { teamId: team.id, key: created.key };
}
