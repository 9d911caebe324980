// GET /v1/host, GET /v1/sandboxes/:id/events and the dashboard's static files, on a real control plane and
// agent (no VM: the rows and events are written through the real SandboxStore, as the lifecycle writes them).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SandboxStore } from './services/sandbox-store.js';
import type { SandboxRow } from './services/sandbox-view.js';
import { type Harness, startHarness } from './test-support/harness.js';

let h: Harness;
let dashboard: string;
let teamId: string;
let hostId: string;

function row(id: string, team: string, state: string, createdAt: number): SandboxRow {
  return {
    id,
    team_id: team,
    host_id: hostId,
    state,
    template: 'base',
    vcpus: 1,
    memory_mb: 512,
    metadata: '{}',
    envs: '{}',
    timeout_sec: 300,
    on_timeout: 'kill',
    created_at: createdAt,
    expires_at: null,
    error: null,
    resume_on_start: 0,
    updated_at: createdAt,
    network: null,
  };
}

before(async () => {
  dashboard = await mkdtemp(join(tmpdir(), 'amber-dashboard-dist-'));
  await mkdir(join(dashboard, 'assets'));
  await writeFile(join(dashboard, 'index.html'), '<!doctype html><title>Amber</title>');
  await writeFile(join(dashboard, 'assets', 'app-abc123.js'), 'console.log(1)');
  // No VM at all: no base template, no QEMU launched ahead for restores.
  h = await startHarness({ prepareBase: false, dashboardDir: dashboard, agentConfig: { vmPoolShapes: 0 } });
  const key = await h.cp.db.db.selectFrom('api_keys').select('team_id').executeTakeFirstOrThrow();
  teamId = key.team_id;
  hostId = (await h.cp.db.db.selectFrom('hosts').select('id').executeTakeFirstOrThrow()).id;
  await h.cp.db.db.insertInto('teams').values({ id: 'team_other', name: 'other', created_at: 1 }).execute();
  const store = new SandboxStore(h.cp.db.db);
  // Paused rows: the reconciler leaves them alone, so nothing rewrites them under the test.
  await store.insert(row('sb_a', teamId, 'running', Date.now() - 5000));
  await store.update('sb_a', { state: 'pausing' });
  await new Promise((r) => setTimeout(r, 30));
  await store.update('sb_a', { state: 'paused' }, { type: 'paused' });
  await store.update('sb_a', { state: 'resuming' });
  await new Promise((r) => setTimeout(r, 20));
  await store.update('sb_a', { state: 'running' });
  await store.update('sb_a', { state: 'pausing' });
  await store.update('sb_a', { state: 'paused' }, { type: 'timeout', message: 'expired' });
  await store.insert(row('sb_other', 'team_other', 'paused', Date.now()));
});

after(async () => {
  await h?.stop();
  await rm(dashboard, { recursive: true, force: true });
});

test('GET /v1/host: the budget, the team’s sandboxes by state, disk use and paired pause/resume times', async () => {
  const res = await h.call('GET', '/v1/host');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.memory.budgetMib, 3072);
  assert.equal(res.json.memory.freeMib, res.json.memory.budgetMib - res.json.memory.committedMib);
  assert.equal(res.json.sandboxesByState.paused, 1, 'another team’s paused sandbox is not counted');
  assert.equal(res.json.sandboxesByState.running, 0);
  assert.equal(typeof res.json.snapshotDisk.totalBytes, 'number');
  const ops = res.json.recentTransitions.map((t: { operation: string }) => t.operation);
  assert.deepEqual(ops, ['pause', 'resume', 'pause'], 'newest first');
  const firstPause = res.json.recentTransitions[2];
  assert.equal(firstPause.sandboxId, 'sb_a');
  assert.ok(firstPause.ms >= 25 && firstPause.ms < 5000, `pause took ${firstPause.ms} ms`);
  const limited = await h.call('GET', '/v1/host?transitions=1');
  assert.equal(limited.json.recentTransitions.length, 1);
});

test('GET /v1/host: bad queries are 400, no key is 401', async () => {
  for (const q of ['transitions=abc', 'transitions=-1', 'transitions=201', 'other=1']) {
    const res = await h.call('GET', `/v1/host?${q}`);
    assert.equal(res.status, 400, q);
    assert.equal(res.json.error.code, 'invalid_argument', q);
  }
  const anon = await h.call('GET', '/v1/host', { key: null });
  assert.equal(anon.status, 401);
  assert.equal(anon.json.error.code, 'unauthenticated');
});

test('GET /v1/sandboxes/:id/events: oldest first, limited, another team’s is 404', async () => {
  const res = await h.call('GET', '/v1/sandboxes/sb_a/events');
  assert.equal(res.status, 200, res.text);
  const states = res.json.events.map((e: { state: string | null }) => e.state);
  assert.deepEqual(states, ['running', 'pausing', 'paused', 'resuming', 'running', 'pausing', 'paused']);
  assert.equal(res.json.events[0].type, 'created');
  assert.equal(res.json.events.at(-1).type, 'timeout');
  assert.equal(res.json.events.at(-1).message, 'expired');
  const last2 = await h.call('GET', '/v1/sandboxes/sb_a/events?limit=2');
  assert.deepEqual(
    last2.json.events.map((e: { state: string }) => e.state),
    ['pausing', 'paused'],
  );
  assert.equal((await h.call('GET', '/v1/sandboxes/sb_other/events')).status, 404);
  assert.equal((await h.call('GET', '/v1/sandboxes/sb_none/events')).json.error.code, 'not_found');
  assert.equal((await h.call('GET', '/v1/sandboxes/sb_a/events?limit=0')).status, 400);
  assert.equal((await h.call('GET', '/v1/sandboxes/bad%20id/events')).status, 400);
});

test('the dashboard is served at / without a key and shadows no API path', async () => {
  const index = await h.call('GET', '/', { key: null });
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /text\/html/);
  assert.match(index.text, /<title>Amber<\/title>/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const asset = await h.call('GET', '/assets/app-abc123.js', { key: null });
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
  const missing = await h.call('GET', '/assets/nope.js', { key: null });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error.code, 'not_found');
  assert.equal((await h.call('GET', '/v1/health', { key: null })).json.status, 'ok');
  assert.equal((await h.call('GET', '/openapi.json', { key: null })).status, 200);
  assert.match((await h.call('GET', '/metrics', { key: null })).text, /amber_sandboxes/);
  assert.equal((await h.call('GET', '/v1/sandboxes', { key: null })).status, 401);
});
