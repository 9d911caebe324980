// Host.stats and sb.events against a real control plane and agent over real HTTP. No VM: a paused row and
// its events are written to the real database (the reconciler leaves paused rows alone).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startControlPlane } from '@amber/control-plane';
import { AmberError, type ConnectionOptions, Host, Sandbox } from './node.js';

let home: string;
let shmDir: string;
let cp: Awaited<ReturnType<typeof startControlPlane>>;
let conn: ConnectionOptions;
const id = 'sbsdkhosttest0000001';

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'amber-sdk-host-'));
  shmDir = await mkdtemp('/dev/shm/amber-sdk-host-');
  cp = await startControlPlane({
    home,
    port: 0,
    logLevel: 'silent',
    prepareBase: false,
    agentConfig: { shmDir, vmPoolShapes: 0 },
  });
  conn = { url: cp.url, apiKey: cp.apiKey };
  const db = cp.db.db;
  const { team_id } = await db.selectFrom('api_keys').select('team_id').executeTakeFirstOrThrow();
  const { id: host_id } = await db.selectFrom('hosts').select('id').executeTakeFirstOrThrow();
  const t0 = Date.now() - 10_000;
  await db
    .insertInto('sandboxes')
    .values({
      id,
      team_id,
      host_id,
      state: 'paused',
      template: 'base',
      vcpus: 1,
      memory_mb: 512,
      metadata: '{}',
      envs: '{}',
      timeout_sec: 300,
      on_timeout: 'kill',
      created_at: t0,
      expires_at: null,
      error: null,
      resume_on_start: 0,
      updated_at: t0,
    })
    .execute();
  const events: Array<[string, string, number]> = [
    ['created', 'running', t0],
    ['state', 'pausing', t0 + 1000],
    ['paused', 'paused', t0 + 1750],
  ];
  for (const [type, state, at] of events)
    await db
      .insertInto('events')
      .values({ sandbox_id: id, team_id, type, state, message: null, at })
      .execute();
});

after(async () => {
  await cp?.close();
  await rm(home, { recursive: true, force: true });
  await rm(shmDir, { recursive: true, force: true });
});

test('Host.stats: the budget, sandboxes by state and the timed pause', async () => {
  const stats = await Host.stats({ transitions: 5 }, conn);
  assert.ok(stats.memory.budgetMib > 0);
  assert.equal(stats.sandboxesByState.paused, 1);
  assert.deepEqual(stats.recentTransitions, [
    { sandboxId: id, operation: 'pause', ms: 750, at: stats.recentTransitions[0]?.at },
  ]);
  await assert.rejects(Host.stats({ transitions: 9999 }, conn), (err) => {
    assert.ok(err instanceof AmberError);
    assert.equal(err.code, 'invalid_argument');
    return true;
  });
});

test('sb.events: the history, oldest first, limited', async () => {
  const sb = await Sandbox.get(id, conn);
  assert.deepEqual(
    (await sb.events()).map((e) => e.type),
    ['created', 'state', 'paused'],
  );
  assert.deepEqual(
    (await sb.events({ limit: 1 })).map((e) => e.state),
    ['paused'],
  );
});
