// The key cache against a real SQLite database: a revoked key stops working at once, even when a lookup
// was in flight as it was revoked, and a key deleted behind the control plane's back within the cache time.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Kysely } from 'kysely';
import { type Db, openDatabase } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import { KeyStore } from './key-store.js';

const CACHE_MS = 300;
let home: string;
let db: Db;
/** While set, a key read waits for it after the database answered: a lookup held between read and return. */
let hold: Promise<void> | undefined;

/** The same database, with reads (`selectFrom … executeTakeFirst`) held while `hold` is set. */
function holdingReads(kysely: Kysely<Database>): Kysely<Database> {
  const wrap = <T extends object>(builder: T): T =>
    new Proxy(builder, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (prop === 'executeTakeFirst') {
          return async (...args: unknown[]) => {
            const result = await value.apply(target, args);
            if (hold) await hold;
            return result;
          };
        }
        return (...args: unknown[]) => {
          const out = value.apply(target, args);
          return out && typeof out === 'object' && 'executeTakeFirst' in out ? wrap(out) : out;
        };
      },
    });
  return new Proxy(kysely, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return prop === 'selectFrom'
        ? (...args: unknown[]) => wrap(value.apply(target, args))
        : value.bind(target);
    },
  });
}

async function newStore(): Promise<{ keys: KeyStore; held: KeyStore; teamId: string }> {
  const teamId = `team_${Math.random().toString(16).slice(2)}`;
  await db.db.insertInto('teams').values({ id: teamId, name: teamId, created_at: Date.now() }).execute();
  return {
    keys: new KeyStore(db.db, { cacheMs: CACHE_MS }),
    held: new KeyStore(holdingReads(db.db), { cacheMs: CACHE_MS }),
    teamId,
  };
}

const rejects401 = (p: Promise<unknown>) => assert.rejects(p, { code: 'unauthenticated' });

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'amber-key-store-'));
  db = await openDatabase({ home });
});

after(async () => {
  await db.close();
  await rm(home, { recursive: true, force: true });
});

test('a key revoked through the store fails on the very next request, though it was cached', async () => {
  const { keys, teamId } = await newStore();
  const { key, id } = await keys.create(teamId, 'ci');
  assert.equal((await keys.authenticate(key)).teamId, teamId);
  assert.equal((await keys.authenticate(key)).keyId, id); // from the cache
  await keys.remove(teamId, id);
  await rejects401(keys.authenticate(key));
});

test('a lookup in flight while its key is revoked does not put the key back in the cache', async () => {
  const { held: keys, teamId } = await newStore();
  const { key, id } = await keys.create(teamId, 'ci');
  let release = () => {};
  hold = new Promise((resolve) => {
    release = resolve;
  });
  const inFlight = keys.authenticate(key); // has read the row, waits before it returns
  await new Promise((resolve) => setTimeout(resolve, 20));
  hold = undefined;
  await keys.remove(teamId, id);
  release();
  // It began before the revocation, so it passes; nothing after it may.
  assert.equal((await inFlight).keyId, id);
  await rejects401(keys.authenticate(key));
});

test('a key deleted behind the store’s back stops working within the cache time', async () => {
  const { keys, teamId } = await newStore();
  const { key, id } = await keys.create(teamId, 'ci');
  await keys.authenticate(key);
  // As another control plane on the same database would.
  await db.db.deleteFrom('api_keys').where('id', '=', id).execute();
  const deletedAt = Date.now();
  let rejectedAt: number | undefined;
  while (rejectedAt === undefined && Date.now() - deletedAt < CACHE_MS * 4) {
    try {
      await keys.authenticate(key);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'unauthenticated');
      rejectedAt = Date.now();
    }
  }
  assert.ok(rejectedAt !== undefined, 'the deleted key still worked after 4 cache times');
  assert.ok(rejectedAt - deletedAt <= CACHE_MS + 100, `took ${rejectedAt - deletedAt} ms`);
});

test('a request does not wait for lastUsedAt, which is written soon after', async () => {
  const { keys, teamId } = await newStore();
  const { key, id } = await keys.create(teamId, 'ci');
  await keys.authenticate(key);
  for (let i = 0; i < 50; i++) {
    const [view] = (await keys.list(teamId)).filter((k) => k.id === id);
    if (view?.lastUsedAt) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('lastUsedAt was never written');
});
