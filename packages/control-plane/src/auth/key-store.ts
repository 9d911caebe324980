import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { ApiError, notFound } from '../errors.js';
import { generateKey, hashKey, KEY_PATTERN, keyPrefix, newId } from './keys.js';

export interface Principal {
  teamId: string;
  keyId: string;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/**
 * How long a verified key is trusted without asking the database again. A key deleted through this control
 * plane stops working at once; one deleted behind its back (another control plane on the same database)
 * within this long.
 */
export const KEY_CACHE_MS = 5_000;
/** last_used_at is a hint for people; writing it on every request would cost every request a write. */
const LAST_USED_EVERY_MS = 60_000;

export interface KeyStoreOptions {
  cacheMs?: number;
  /** Where a failed last_used_at write is reported (it is written after the request goes on). */
  log?: Pick<Logger, 'warn'>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/**
 * Keys, hashed with sha256: a stolen database yields no usable key. A verified key is cached for
 * `KEY_CACHE_MS`, so a request costs no database read, and none costs a write (`lastUsedAt` is written
 * after the request goes on, at most once a minute per key).
 */
export class KeyStore {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  private readonly lastUsedWritten = new Map<string, number>();
  /** Bumped by every removal: a lookup that began before one may not fill the cache after it. */
  private removals = 0;
  private readonly cacheMs: number;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: KeyStoreOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? KEY_CACHE_MS;
  }

  async authenticate(key: string | undefined): Promise<Principal> {
    if (!key)
      throw new ApiError('unauthenticated', 'an API key is required (X-API-Key or Authorization: Bearer)');
    if (!KEY_PATTERN.test(key))
      throw new ApiError('unauthenticated', 'malformed API key (expected e2b_ + 40 hex)');
    const hash = hashKey(key);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.until > now) return cached.principal;
    const removals = this.removals;
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'team_id'])
      .where('key_hash', '=', hash)
      .executeTakeFirst();
    if (!row) {
      this.cache.delete(hash);
      throw new ApiError('unauthenticated', 'unknown API key');
    }
    const principal = { teamId: row.team_id, keyId: row.id };
    // A removal while the lookup ran may have been of this key: this request passes (it began before the
    // removal), but the next one asks the database again.
    if (removals === this.removals) this.cache.set(hash, { principal, until: now + this.cacheMs });
    if ((this.lastUsedWritten.get(row.id) ?? 0) + LAST_USED_EVERY_MS < now) {
      this.lastUsedWritten.set(row.id, now);
      void this.db
        .updateTable('api_keys')
        .set({ last_used_at: now })
        .where('id', '=', row.id)
        .execute()
        .catch((err) => this.options.log?.warn({ err, key: row.id }, 'could not record a key use'));
    }
    return principal;
  }

  async create(teamId: string, name: string): Promise<ApiKeyView & { key: string }> {
    const key = generateKey();
    const row = {
      id: newId('key'),
      team_id: teamId,
      name,
      key_hash: hashKey(key),
      prefix: keyPrefix(key),
      created_at: Date.now(),
      last_used_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return { ...view(row), key };
  }

  async list(teamId: string): Promise<ApiKeyView[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('team_id', '=', teamId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(view);
  }

  async remove(teamId: string, id: string): Promise<void> {
    const row = await this.db
      .deleteFrom('api_keys')
      .where('team_id', '=', teamId)
      .where('id', '=', id)
      .returning(['key_hash'])
      .executeTakeFirst();
    this.removals++;
    if (!row) throw notFound('API key', id);
    this.cache.delete(row.key_hash);
    this.lastUsedWritten.delete(id);
  }

  async exists(key: string): Promise<boolean> {
    if (!KEY_PATTERN.test(key)) return false;
    const row = await this.db
      .selectFrom('api_keys')
      .select('id')
      .where('key_hash', '=', hashKey(key))
      .executeTakeFirst();
    return row !== undefined;
  }
}

function view(row: {
  id: string;
  name: string;
  prefix: string;
  created_at: number;
  last_used_at: number | null;
}): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: iso(row.created_at) as string,
    lastUsedAt: iso(row.last_used_at),
  };
}
