import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { otherTeamKey } from './contract-basics.js';
import type { Harness } from './harness.js';
import { b64, execStream } from './ws-client.js';

const MIN = 60_000;

async function sh(h: Harness, id: string, command: string) {
  const res = await h.call('POST', `/v1/sandboxes/${id}/exec`, { body: { command } });
  assert.equal(res.status, 200, res.text);
  return res.json as { exitCode: number; stdout: string; stderr: string };
}

/** The sandbox routes on real VMs; one sandbox carries most checks to keep the VM count low. */
export function sandboxesContract(h: () => Harness, state: { id?: string }): void {
  test('create spawns from base, with metadata, envs and a timeout', { timeout: 10 * MIN }, async () => {
    const res = await h().call('POST', '/v1/sandboxes', {
      body: { metadata: { owner: 'contract', n: '1' }, envs: { GREETING: 'hello' }, timeoutSec: 600 },
    });
    assert.equal(res.status, 201, res.text);
    const sb = res.json;
    assert.equal(sb.state, 'running');
    assert.equal(sb.template, 'base');
    assert.equal(sb.vcpus, 1);
    assert.equal(sb.memoryMb, 512);
    assert.deepEqual(sb.metadata, { owner: 'contract', n: '1' });
    assert.equal(sb.timeoutSec, 600);
    assert.equal(sb.onTimeout, 'kill');
    const expires = Date.parse(sb.expiresAt) - Date.parse(sb.createdAt);
    assert.ok(Math.abs(expires - 600_000) < 5000, `expires ${expires} ms after creation`);
    state.id = sb.id;
    const got = await h().call('GET', `/v1/sandboxes/${sb.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.json.id, sb.id);
  });

  test('list filters by state and metadata and pages', async () => {
    const byMeta = await h().call('GET', `/v1/sandboxes?metadata=${encodeURIComponent('owner=contract')}`);
    assert.deepEqual(
      byMeta.json.sandboxes.map((s: { id: string }) => s.id),
      [state.id],
    );
    const none = await h().call('GET', `/v1/sandboxes?metadata=${encodeURIComponent('owner=contract&n=2')}`);
    assert.equal(none.json.sandboxes.length, 0);
    const paused = await h().call('GET', '/v1/sandboxes?state=paused,stopped');
    assert.ok(!paused.json.sandboxes.some((s: { id: string }) => s.id === state.id));
    const running = await h().call('GET', '/v1/sandboxes?state=running&limit=1');
    assert.equal(running.json.sandboxes.length, 1);
  });

  test('exec: argv or shell, envs, cwd, stdin, exit codes, binary output', { timeout: 5 * MIN }, async () => {
    const id = state.id as string;
    const argv = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
      body: { cmd: ['/bin/echo', 'a b', 'c'] },
    });
    assert.equal(argv.status, 200, argv.text);
    assert.equal(argv.json.stdout, 'a b c\n');
    assert.equal(argv.json.exitCode, 0);
    assert.equal(argv.json.encoding, 'utf8');
    assert.equal(typeof argv.json.durationMs, 'number');
    const envs = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
      body: {
        command: 'echo $GREETING $EXTRA; pwd; echo oops >&2; exit 3',
        envs: { EXTRA: 'there' },
        cwd: '/tmp',
      },
    });
    assert.equal(envs.json.stdout, 'hello there\n/tmp\n');
    assert.equal(envs.json.stderr, 'oops\n');
    assert.equal(envs.json.exitCode, 3);
    const stdin = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
      body: { cmd: ['wc', '-c'], stdin: 'twelve bytes' },
    });
    assert.equal(stdin.json.stdout.trim(), '12');
    const binary = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
      body: { command: "printf '\\377\\376ok'" },
    });
    assert.equal(binary.json.encoding, 'base64');
    assert.deepEqual(Buffer.from(binary.json.stdout, 'base64'), Buffer.from([0xff, 0xfe, 0x6f, 0x6b]));
    const both = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
      body: { cmd: ['true'], command: 'true' },
    });
    assert.equal(both.status, 400);
  });

  test('exec stream: output, stdin in, exit code out', { timeout: 5 * MIN }, async () => {
    const id = state.id as string;
    const result = await execStream(
      h().cp.url,
      h().cp.apiKey,
      id,
      { command: 'read line; echo "got $line"; echo err >&2; exit 7' },
      [{ type: 'stdin', data: b64('ping\n') }],
    );
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    assert.equal(result.stdout, 'got ping\n');
    assert.equal(result.stderr, 'err\n');
    assert.equal(result.exitCode, 7);
    assert.equal(result.closeCode, 1000);
    const unauth = await execStream(h().cp.url, 'e2b_nope', id, { command: 'true' });
    assert.equal(unauth.closeCode, 401);
    const invalid = await execStream(h().cp.url, h().cp.apiKey, id, { command: 'true', colour: 'red' });
    assert.equal(invalid.error?.code, 'invalid_argument');
  });

  test('files: a 6 MiB upload and download stream through intact; a missing file is 404', {
    timeout: 5 * MIN,
  }, async () => {
    const id = state.id as string;
    const data = randomBytes(6 * 1024 * 1024);
    const put = await h().call('PUT', `/v1/sandboxes/${id}/files?path=/tmp/blob.bin`, {
      raw: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.size, data.length);
    const res = await fetch(`${h().cp.url}/v1/sandboxes/${id}/files?path=/tmp/blob.bin`, {
      headers: { 'x-api-key': h().cp.apiKey },
    });
    assert.equal(res.status, 200);
    const got = Buffer.from(await res.arrayBuffer());
    assert.equal(
      createHash('sha256').update(got).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
    const sum = await sh(h(), id, 'sha256sum /tmp/blob.bin');
    assert.ok(sum.stdout.startsWith(createHash('sha256').update(data).digest('hex')));
    const json = await h().call('PUT', `/v1/sandboxes/${id}/files?path=/tmp/note.json`, {
      raw: '{"not": "parsed"}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(json.status, 200);
    assert.equal((await sh(h(), id, 'cat /tmp/note.json')).stdout, '{"not": "parsed"}');
    const missing = await h().call('GET', `/v1/sandboxes/${id}/files?path=/tmp/none`);
    assert.equal(missing.status, 404, missing.text);
  });

  test("another team's sandbox is 404 on every route", async () => {
    const other = await otherTeamKey(h());
    const id = state.id as string;
    for (const [method, path, body] of [
      ['GET', `/v1/sandboxes/${id}`],
      ['DELETE', `/v1/sandboxes/${id}`],
      ['POST', `/v1/sandboxes/${id}/exec`, { command: 'true' }],
      ['POST', `/v1/sandboxes/${id}/pause`],
      ['POST', `/v1/sandboxes/${id}/timeout`, { timeoutSec: 10 }],
      ['POST', `/v1/sandboxes/${id}/fork`, { count: 1 }],
      ['GET', `/v1/sandboxes/${id}/files?path=/tmp/blob.bin`],
      ['POST', '/v1/snapshots', { sandboxId: id, name: 'stolen' }],
    ] as const) {
      const res = await h().call(method, path, { key: other.key, ...(body && { body }) });
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
    }
    const list = await h().call('GET', '/v1/sandboxes', { key: other.key });
    assert.equal(list.json.sandboxes.length, 0);
  });

  test('pause, 409 naming the state, resume with files and processes intact', {
    timeout: 10 * MIN,
  }, async () => {
    const id = state.id as string;
    await sh(h(), id, 'nohup sleep 100000 >/dev/null 2>&1 & echo $! > /tmp/sleep.pid');
    const paused = await h().call('POST', `/v1/sandboxes/${id}/pause`);
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json.state, 'paused');
    assert.equal(paused.json.expiresAt, null);
    const exec = await h().call('POST', `/v1/sandboxes/${id}/exec`, { body: { command: 'true' } });
    assert.equal(exec.status, 409);
    assert.equal(exec.json.error.code, 'invalid_state');
    assert.match(exec.json.error.message, /paused/);
    assert.equal((await h().call('POST', `/v1/sandboxes/${id}/pause`)).status, 409);
    const timeout = await h().call('POST', `/v1/sandboxes/${id}/timeout`, { body: { timeoutSec: 900 } });
    assert.equal(timeout.json.expiresAt, null, 'a paused sandbox does not expire');
    const resumed = await h().call('POST', `/v1/sandboxes/${id}/resume`, { body: {} });
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json.state, 'running');
    const left = Date.parse(resumed.json.expiresAt) - Date.now();
    assert.ok(left > 880_000 && left <= 900_000, `the sandbox's own timeout is back (${left} ms)`);
    const again = await h().call('POST', `/v1/sandboxes/${id}/resume`);
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /running/);
    const alive = await sh(
      h(),
      id,
      'kill -0 $(cat /tmp/sleep.pid) && echo alive; sha256sum /tmp/blob.bin | cut -c1-8',
    );
    assert.match(alive.stdout, /^alive\n[0-9a-f]{8}\n$/);
    const set = await h().call('POST', `/v1/sandboxes/${id}/timeout`, { body: { timeoutSec: 1200 } });
    assert.equal(set.json.timeoutSec, 1200);
    assert.ok(Date.parse(set.json.expiresAt) - Date.now() > 1_190_000);
  });

  test('snapshots: create, list, get, spawn (shape locked), 409 on a taken name, overwrite, delete', {
    timeout: 10 * MIN,
  }, async () => {
    const id = state.id as string;
    const made = await h().call('POST', '/v1/snapshots', { body: { sandboxId: id, name: 'with-blob' } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.name, 'with-blob');
    assert.equal(made.json.sandboxId, id);
    assert.equal(made.json.builtIn, false);
    const taken = await h().call('POST', '/v1/snapshots', { body: { sandboxId: id, name: 'with-blob' } });
    assert.equal(taken.status, 409);
    assert.equal(taken.json.error.code, 'already_exists');
    const list = await h().call('GET', '/v1/snapshots');
    const names = list.json.snapshots.map((s: { name: string }) => s.name);
    assert.ok(names.includes('with-blob') && names.includes('base'), names.join());
    // Its sizes are the agent's: memory holds the 6 MiB blob (/tmp is a tmpfs), the disk its own layers.
    const agent = h().cp.agent;
    assert.ok(agent);
    const row = await h()
      .cp.db.db.selectFrom('templates')
      .select('agent_name')
      .where('name', '=', 'with-blob')
      .executeTakeFirstOrThrow();
    const onAgent = await agent.manager.snapshots.templates.get(row.agent_name);
    const listed = list.json.snapshots.find((s: { name: string }) => s.name === 'with-blob');
    assert.ok(onAgent.memoryBytes > 6 * 1024 * 1024 && onAgent.diskBytes > 0, JSON.stringify(onAgent));
    assert.deepEqual(
      [made.json.memoryBytes, made.json.diskBytes, listed.memoryBytes, listed.diskBytes],
      [onAgent.memoryBytes, onAgent.diskBytes, onAgent.memoryBytes, onAgent.diskBytes],
    );
    const base = list.json.snapshots.find((s: { name: string }) => s.name === 'base');
    assert.ok(base.memoryBytes > 0 && base.diskBytes > 0, JSON.stringify(base));
    // A row from before the sizes were kept gets them from the agent at the next read, and keeps them.
    await h()
      .cp.db.db.updateTable('templates')
      .set({ memory_bytes: null, disk_bytes: null })
      .where('agent_name', '=', row.agent_name)
      .execute();
    const older = (await h().call('GET', '/v1/snapshots/with-blob')).json;
    assert.deepEqual([older.memoryBytes, older.diskBytes], [onAgent.memoryBytes, onAgent.diskBytes]);
    const kept = await h()
      .cp.db.db.selectFrom('templates')
      .select(['memory_bytes', 'disk_bytes'])
      .where('agent_name', '=', row.agent_name)
      .executeTakeFirstOrThrow();
    assert.deepEqual(
      [Number(kept.memory_bytes), Number(kept.disk_bytes)],
      [onAgent.memoryBytes, onAgent.diskBytes],
    );
    assert.equal((await h().call('GET', '/v1/snapshots/with-blob')).json.memoryMb, 512);
    const locked = await h().call('POST', '/v1/sandboxes', {
      body: { template: 'with-blob', memoryMb: 1024 },
    });
    assert.equal(locked.status, 400);
    assert.match(locked.json.error.message, /locked/);
    const spawned = await h().call('POST', '/v1/sandboxes', {
      body: { template: 'with-blob', timeoutSec: 600 },
    });
    assert.equal(spawned.status, 201, spawned.text);
    assert.equal(spawned.json.template, 'with-blob');
    const inside = await sh(h(), spawned.json.id, 'test -f /tmp/blob.bin && echo yes');
    assert.equal(inside.stdout, 'yes\n');
    await sh(h(), spawned.json.id, 'echo second > /tmp/marker');
    const over = await h().call('POST', '/v1/snapshots', {
      body: { sandboxId: spawned.json.id, name: 'with-blob', overwrite: true },
    });
    assert.equal(over.status, 201, over.text);
    assert.equal(over.json.sandboxId, spawned.json.id);
    assert.equal((await h().call('DELETE', `/v1/sandboxes/${spawned.json.id}`)).status, 204);
    assert.equal((await h().call('GET', `/v1/sandboxes/${spawned.json.id}`)).status, 404);
    assert.equal((await h().call('DELETE', '/v1/snapshots/base')).status, 400);
    assert.equal((await h().call('DELETE', '/v1/snapshots/with-blob')).status, 204);
    assert.equal((await h().call('GET', '/v1/snapshots/with-blob')).status, 404);
    assert.equal((await h().call('POST', '/v1/sandboxes', { body: { template: 'with-blob' } })).status, 404);
  });

  test('network rules: replaced by PUT, checked, kept in the row, inherited by a fork', async () => {
    const id = state.id as string;
    const put = (body: unknown) => h().call('PUT', `/v1/sandboxes/${id}/network`, { body });
    const set = await put({ denyOut: ['0.0.0.0/0'], allowOut: ['192.0.2.7'] });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.json.network, { allowOut: ['192.0.2.7/32'], denyOut: ['0.0.0.0/0'] });
    for (const [body, message] of [
      [{ allowOut: ['192.0.2.7'] }, /network\.allowOut needs denyOut/],
      [
        { denyOut: ['example.com'] },
        /network\.denyOut: example\.com: domain names are not supported by Amber/,
      ],
      [{ denyOut: ['300.1.1.1'] }, /is not an IPv4 address or CIDR/],
    ] as const) {
      const bad = await put(body);
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.error.code, 'invalid_argument');
      assert.match(bad.json.error.message, message);
    }
    const kept = await h().call('GET', `/v1/sandboxes/${id}`);
    assert.deepEqual(kept.json.network, set.json.network, 'a refused update changes nothing');
    const bad = await h().call('POST', '/v1/sandboxes', { body: { network: { denyOut: ['::/0'] } } });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.json.error.message, /IPv6 rules are not supported/);
  });

  test('fork copies the sandbox; the fork is its own', { timeout: 10 * MIN }, async () => {
    const id = state.id as string;
    const res = await h().call('POST', `/v1/sandboxes/${id}/fork`, { body: { count: 1 } });
    assert.equal(res.status, 201, res.text);
    const fork = res.json.sandboxes[0];
    assert.notEqual(fork.id, id);
    assert.equal(fork.state, 'running');
    assert.deepEqual(fork.metadata, { owner: 'contract', n: '1' });
    assert.deepEqual(fork.network, { allowOut: ['192.0.2.7/32'], denyOut: ['0.0.0.0/0'] }, 'its rules too');
    assert.equal((await h().call('PUT', `/v1/sandboxes/${id}/network`, { body: {} })).json.network, null);
    const seen = await sh(h(), fork.id, 'sha256sum /tmp/blob.bin | cut -c1-8; echo fork > /tmp/who');
    assert.match(seen.stdout, /^[0-9a-f]{8}\n$/);
    const original = await sh(h(), id, 'cat /tmp/who 2>/dev/null || echo none');
    assert.equal(original.stdout, 'none\n');
    assert.equal((await h().call('DELETE', `/v1/sandboxes/${fork.id}`)).status, 204);
    assert.equal((await h().call('POST', `/v1/sandboxes/${id}/fork`, { body: { count: 0 } })).status, 400);
  });
}
