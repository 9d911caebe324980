import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { eventually, type Harness } from './harness.js';

const MIN = 60_000;

async function sh(h: Harness, id: string, command: string) {
  const res = await h.call('POST', `/v1/sandboxes/${id}/exec`, { body: { command } });
  assert.equal(res.status, 200, res.text);
  return res.json as { exitCode: number; stdout: string };
}

async function stateOf(h: Harness, id: string): Promise<string | undefined> {
  const res = await h.call('GET', `/v1/sandboxes/${id}`);
  return res.status === 404 ? 'gone' : res.json.state;
}

/** Timeouts, the memory budget, the reconciler and a restart, on real VMs. */
export function policiesContract(h: () => Harness, state: { id?: string }): void {
  test('timeoutSec 5 with onTimeout pause: paused, then resumed with files and processes intact', {
    timeout: 10 * MIN,
  }, async () => {
    const res = await h().call('POST', '/v1/sandboxes', { body: { timeoutSec: 5, onTimeout: 'pause' } });
    assert.equal(res.status, 201, res.text);
    const id = res.json.id;
    await sh(h(), id, 'echo kept > /tmp/kept; nohup sleep 100000 >/dev/null 2>&1 & echo $! > /tmp/sleep.pid');
    await eventually('the timeout to pause it', 2 * MIN, async () =>
      (await stateOf(h(), id)) === 'paused' ? true : undefined,
    );
    const resumed = await h().call('POST', `/v1/sandboxes/${id}/resume`);
    assert.equal(resumed.status, 200, resumed.text);
    const left = Date.parse(resumed.json.expiresAt) - Date.now();
    assert.ok(left > 0 && left <= 5000, `its own 5 s timeout is back (${left} ms)`);
    const extended = await h().call('POST', `/v1/sandboxes/${id}/timeout`, { body: { timeoutSec: 600 } });
    assert.equal(extended.status, 200, extended.text);
    const check = await sh(h(), id, 'cat /tmp/kept; kill -0 $(cat /tmp/sleep.pid) && echo alive');
    assert.equal(check.stdout, 'kept\nalive\n');
    assert.equal((await h().call('DELETE', `/v1/sandboxes/${id}`)).status, 204);
  });

  test('timeoutSec 5 with onTimeout kill: gone, and every resource freed', {
    timeout: 10 * MIN,
  }, async () => {
    const res = await h().call('POST', '/v1/sandboxes', { body: { timeoutSec: 5 } });
    assert.equal(res.status, 201, res.text);
    const id = res.json.id;
    const agent = h().cp.agent;
    assert.ok(agent);
    const paths = agent.manager.paths(id);
    assert.ok(existsSync(paths.memory), 'guest RAM exists while it runs');
    await eventually('the timeout to kill it', 2 * MIN, async () =>
      (await stateOf(h(), id)) === 'gone' ? true : undefined,
    );
    assert.ok(!agent.manager.list().some((s) => s.id === id), 'the agent no longer has it');
    assert.ok(!existsSync(paths.memory), 'guest RAM freed');
    assert.ok(!existsSync(paths.dir), 'sandbox directory removed');
  });

  test('a create beyond the memory budget is 503 and leaves nothing behind', {
    timeout: 5 * MIN,
  }, async () => {
    const agent = h().cp.agent;
    assert.ok(agent);
    const before = agent.manager.list().length;
    const rowsBefore = (await h().call('GET', '/v1/sandboxes?limit=1000')).json.sandboxes.length;
    const free = agent.manager.budget.totalMib - agent.manager.budget.committedMib;
    const res = await h().call('POST', '/v1/sandboxes', { body: { template: null, memoryMb: free + 128 } });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.error.code, 'insufficient_capacity');
    assert.match(res.json.error.message, /memory/);
    assert.equal(agent.manager.list().length, before);
    assert.equal((await h().call('GET', '/v1/sandboxes?limit=1000')).json.sandboxes.length, rowsBefore);
  });

  test('the reconciler: a sandbox the agent lost is stopped; one the database does not know is destroyed', {
    timeout: 10 * MIN,
  }, async () => {
    const res = await h().call('POST', '/v1/sandboxes', { body: { timeoutSec: 600 } });
    assert.equal(res.status, 201, res.text);
    const lost = res.json.id;
    const agent = h().cp.agent;
    assert.ok(agent);
    await agent.manager.destroy(lost);
    const stray = await agent.manager.create({
      template: agent.manager.list().find((s) => s.id === state.id)?.template ?? '',
    });
    await h().cp.reconciler.reconcile();
    assert.equal(await stateOf(h(), lost), 'stopped');
    assert.equal(
      (await h().call('POST', `/v1/sandboxes/${lost}/exec`, { body: { command: 'true' } })).status,
      409,
    );
    assert.ok(
      agent.manager.list().some((s) => s.id === stray.id),
      'reported first, not destroyed at once',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await h().cp.reconciler.reconcile();
    assert.ok(!agent.manager.list().some((s) => s.id === stray.id), 'destroyed after the grace period');
    assert.equal((await h().call('DELETE', `/v1/sandboxes/${lost}`)).status, 204);
  });

  test('a restart loses nothing: sandboxes, templates, keys and timeouts', {
    timeout: 15 * MIN,
  }, async () => {
    const id = state.id as string;
    const paused = await h().call('POST', '/v1/sandboxes', { body: { timeoutSec: 700, onTimeout: 'pause' } });
    assert.equal(paused.status, 201, paused.text);
    await sh(h(), paused.json.id, 'echo before > /tmp/restart');
    assert.equal((await h().call('POST', `/v1/sandboxes/${paused.json.id}/pause`)).status, 200);
    const snap = await h().call('POST', '/v1/snapshots', { body: { sandboxId: id, name: 'survivor' } });
    assert.equal(snap.status, 201, snap.text);
    const key = await h().call('POST', '/v1/api-keys', { body: { name: 'survivor' } });
    const before = (await h().call('GET', `/v1/sandboxes/${id}`)).json;
    await h().restart();
    const after = await h().call('GET', `/v1/sandboxes/${id}`, { key: key.json.key });
    assert.equal(after.status, 200, after.text);
    assert.equal(after.json.state, 'running');
    assert.equal(after.json.timeoutSec, before.timeoutSec);
    assert.equal((await sh(h(), id, 'test -f /tmp/blob.bin && echo yes')).stdout, 'yes\n');
    const stillPaused = await h().call('GET', `/v1/sandboxes/${paused.json.id}`);
    assert.equal(stillPaused.json.state, 'paused');
    assert.equal(stillPaused.json.onTimeout, 'pause');
    assert.equal((await h().call('POST', `/v1/sandboxes/${paused.json.id}/resume`)).status, 200);
    assert.equal((await sh(h(), paused.json.id, 'cat /tmp/restart')).stdout, 'before\n');
    const spawned = await h().call('POST', '/v1/sandboxes', { body: { template: 'survivor' } });
    assert.equal(spawned.status, 201, spawned.text);
    assert.equal((await sh(h(), spawned.json.id, 'test -f /tmp/blob.bin && echo yes')).stdout, 'yes\n');
    for (const sid of [paused.json.id, spawned.json.id, id]) {
      assert.equal((await h().call('DELETE', `/v1/sandboxes/${sid}`)).status, 204);
    }
  });
}
