// Timeout extensions on a real SQLite database (no VM): exact in memory, a bound at least as late written
// ahead, so an exec costs no write while the bound covers it, and a restart never ends a sandbox early.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Db, openDatabase } from '../db/connect.js';
import { SandboxStore } from './sandbox-store.js';
import type { SandboxRow } from './sandbox-view.js';
import { EXPIRY_SLACK_MS } from './use-extensions.js';

let home: string;
let db: Db;
let n = 0;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'amber-use-extensions-'));
  db = await openDatabase({ home });
  await db.db.insertInto('teams').values({ id: 'team', name: 'team', created_at: Date.now() }).execute();
  await db.db
    .insertInto('hosts')
    .values({ id: 'host', address: 'x', image_id: 'i', memory_budget_mib: 1, created_at: 0, last_seen_at: 0 })
    .execute();
});

after(async () => {
  await db.close();
  await rm(home, { recursive: true, force: true });
});

async function running(store: SandboxStore, timeoutSec: number): Promise<string> {
  const now = Date.now();
  const id = `sb${++n}`;
  const row: SandboxRow = {
    id,
    team_id: 'team',
    host_id: 'host',
    state: 'running',
    template: null,
    vcpus: 1,
    memory_mb: 512,
    metadata: '{}',
    envs: '{}',
    timeout_sec: timeoutSec,
    on_timeout: 'kill',
    created_at: now,
    expires_at: now + timeoutSec * 1000,
    error: null,
    resume_on_start: 0,
    updated_at: now,
    network: null,
  };
  await store.insert(row);
  return id;
}

/** What the database holds, under any overlay. */
async function raw(id: string): Promise<number | null> {
  const row = await db.db
    .selectFrom('sandboxes')
    .select('expires_at')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.expires_at === null || row === undefined ? null : Number(row.expires_at);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('an exec restarts the timeout exactly; the database gets a later bound once, then no write', async () => {
  const store = new SandboxStore(db.db);
  const id = await running(store, 60);
  const before = Date.now();
  await store.extend(id, 60);
  const bound = await raw(id);
  assert.ok(bound !== null && bound >= before + 60_000 + EXPIRY_SLACK_MS, 'bound written ahead');
  await sleep(30);
  const second = Date.now();
  await store.extend(id, 60);
  assert.equal(await raw(id), bound, 'no write while the bound covers the extension');
  const seen = Number((await store.find(id))?.expires_at);
  assert.ok(seen >= second + 60_000 && seen <= Date.now() + 60_000, `exact expiry, got ${seen - second}`);
  const listed = (await store.list('team', { limit: 1000 })).rows.find((r) => r.id === id);
  assert.equal(Number(listed?.expires_at), seen);
});

test('the timeout policy sees the exact expiry, not the bound', async () => {
  const store = new SandboxStore(db.db);
  const id = await running(store, 1);
  await store.extend(id, 1);
  const used = Date.now();
  assert.ok(!(await store.expired(used + 500)).some((r) => r.id === id));
  const due = await store.expired(used + 1100);
  assert.ok(due.some((r) => r.id === id && Number(r.expires_at) <= used + 1100));
  assert.ok(Number(await raw(id)) > used + 1100, 'though the database holds a later bound');
});

test('pause, resume and …/timeout set the row outright, and it wins over earlier uses', async () => {
  const store = new SandboxStore(db.db);
  const id = await running(store, 300);
  await store.extend(id, 300);
  const now = Date.now();
  await store.update(id, { timeout_sec: 5, expires_at: now + 5000 });
  assert.equal(Number((await store.find(id))?.expires_at), now + 5000);
  await store.update(id, { state: 'paused', expires_at: null });
  await store.extend(id, 5); // a use racing the pause writes nothing to a paused row
  assert.equal((await store.find(id))?.expires_at, null);
  const resumedAt = Date.now();
  await store.update(id, { state: 'running', expires_at: resumedAt + 5000 });
  assert.equal(Number((await store.find(id))?.expires_at), resumedAt + 5000);
  await store.extend(id, 5);
  assert.ok(Number(await raw(id)) >= Number((await store.find(id))?.expires_at), 'the bound covers it again');
});

test('a restart (a new store on the same database) never ends a sandbox before its exact expiry', async () => {
  const store = new SandboxStore(db.db);
  const id = await running(store, 10);
  await store.extend(id, 10);
  await sleep(50);
  await store.extend(id, 10); // in memory only
  const exact = Number((await store.find(id))?.expires_at);
  const restarted = new SandboxStore(db.db);
  assert.ok(Number((await restarted.find(id))?.expires_at) >= exact);
  assert.ok(!(await restarted.expired(exact - 1)).some((r) => r.id === id));
  // A graceful stop writes the exact values down instead.
  await store.writeExactExpiries();
  assert.equal(await raw(id), exact);
});
