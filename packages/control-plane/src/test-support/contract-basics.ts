import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyStore } from '../auth/key-store.js';
import type { Harness } from './harness.js';

/** Every route the API serves, as OpenAPI names them. */
export const ROUTES = [
  'get /v1/health',
  'post /v1/sandboxes',
  'get /v1/sandboxes',
  'get /v1/sandboxes/{id}',
  'delete /v1/sandboxes/{id}',
  'post /v1/sandboxes/{id}/exec',
  'get /v1/sandboxes/{id}/exec/stream',
  'post /v1/sandboxes/{id}/pause',
  'post /v1/sandboxes/{id}/resume',
  'post /v1/sandboxes/{id}/timeout',
  'post /v1/sandboxes/{id}/fork',
  'put /v1/sandboxes/{id}/network',
  'put /v1/sandboxes/{id}/files',
  'get /v1/sandboxes/{id}/files',
  'delete /v1/sandboxes/{id}/files',
  'get /v1/sandboxes/{id}/files/list',
  'post /v1/sandboxes/{id}/files/mkdir',
  'post /v1/sandboxes/{id}/files/move',
  'post /v1/snapshots',
  'get /v1/snapshots',
  'get /v1/snapshots/{name}',
  'delete /v1/snapshots/{name}',
  'post /v1/api-keys',
  'get /v1/api-keys',
  'delete /v1/api-keys/{id}',
];

/** Routes that need no VM: auth, validation, keys, documents. */
export function basicsContract(h: () => Harness): void {
  test('health, docs and metrics are open; everything else needs a key', async () => {
    const health = await h().call('GET', '/v1/health', { key: null });
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    assert.ok(health.headers.get('x-request-id'));
    const docs = await h().call('GET', '/docs', { key: null });
    assert.ok(docs.status === 200 || docs.status === 302, `docs answered ${docs.status}`);
    const metrics = await h().call('GET', '/metrics', { key: null });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /amber_sandboxes\{state="running"\}/);
    assert.match(metrics.text, /amber_http_request_duration_seconds_bucket/);
    for (const key of [null, 'nonsense', `e2b_${'0'.repeat(40)}`]) {
      const res = await h().call('GET', '/v1/sandboxes', { key });
      assert.equal(res.status, 401, `key ${key}`);
      assert.equal(res.json.error.code, 'unauthenticated');
      assert.ok(res.json.error.message.length > 0);
    }
    const bearer = await h().call('GET', '/v1/sandboxes', {
      key: null,
      headers: { authorization: `Bearer ${h().cp.apiKey}` },
    });
    assert.equal(bearer.status, 200);
  });

  test('/openapi.json is OpenAPI 3 and lists every route', async () => {
    const res = await h().call('GET', '/openapi.json', { key: null });
    assert.equal(res.status, 200);
    const doc = res.json;
    assert.match(doc.openapi, /^3\./);
    assert.equal(typeof doc.info.title, 'string');
    const listed = new Set<string>();
    for (const [path, methods] of Object.entries(
      doc.paths as Record<string, Record<string, { responses?: object }>>,
    )) {
      for (const [method, op] of Object.entries(methods)) {
        listed.add(`${method} ${path}`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      }
    }
    for (const route of ROUTES) assert.ok(listed.has(route), `${route} is in the document`);
    assert.ok(doc.components.securitySchemes.apiKey);
  });

  test('bad input is a 4xx with a clear message and leaves the server answering', async () => {
    const unknown = await h().call('POST', '/v1/sandboxes', { body: { memoryMb: 256, colour: 'red' } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.error.code, 'invalid_argument');
    assert.match(unknown.json.error.message, /colour/);
    for (const body of [
      { timeoutSec: -1 },
      { vcpus: 0 },
      { memoryMb: 1e12 },
      { timeoutSec: 1.5 },
      { vcpus: '2' },
    ]) {
      const res = await h().call('POST', '/v1/sandboxes', { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.error.message, new RegExp(Object.keys(body)[0] as string));
    }
    const malformed = await h().call('POST', '/v1/sandboxes', {
      raw: '{"timeoutSec": 5,',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(malformed.status, 400);
    assert.match(malformed.json.error.message, /JSON/);
    const wrongType = await h().call('POST', '/v1/sandboxes', {
      raw: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.status, 415);
    const huge = Buffer.alloc(100 * 1024 * 1024, 0x20);
    huge.write('{"metadata": {"a": "', 0);
    let status: number | string;
    try {
      status = (
        await h().call('POST', '/v1/sandboxes', {
          raw: huge,
          headers: { 'content-type': 'application/json' },
        })
      ).status;
    } catch (err) {
      // The server may close the connection after answering 413 while the client is still sending.
      status = (err as Error).message;
    }
    assert.ok(status === 413 || typeof status === 'string', `100 MiB body answered ${status}`);
    const after = await h().call('GET', '/v1/health');
    assert.equal(after.status, 200);
    const badQuery = await h().call('GET', '/v1/sandboxes?limit=100000');
    assert.equal(badQuery.status, 400);
    const badState = await h().call('GET', '/v1/sandboxes?state=sleeping');
    assert.equal(badState.status, 400);
    const noRoute = await h().call('GET', '/v1/nothing');
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.json.error.code, 'not_found');
    const missing = await h().call('GET', '/v1/sandboxes/doesnotexist');
    assert.equal(missing.status, 404);
  });

  test('API keys: created and shown once, listed without the key, deleted keys stop working', async () => {
    const created = await h().call('POST', '/v1/api-keys', { body: { name: 'ci' } });
    assert.equal(created.status, 201);
    assert.match(created.json.key, /^e2b_[0-9a-f]{40}$/);
    const withNew = await h().call('GET', '/v1/api-keys', { key: created.json.key });
    assert.equal(withNew.status, 200);
    const listed = withNew.json.apiKeys.find((k: { id: string }) => k.id === created.json.id);
    assert.equal(listed.name, 'ci');
    assert.equal(listed.key, undefined);
    assert.ok(!withNew.text.includes(created.json.key), 'a listing never shows a key');
    assert.equal((await h().call('DELETE', `/v1/api-keys/${created.json.id}`)).status, 204);
    assert.equal((await h().call('GET', '/v1/api-keys', { key: created.json.key })).status, 401);
    assert.equal((await h().call('DELETE', `/v1/api-keys/${created.json.id}`)).status, 404);
    assert.equal((await h().call('POST', '/v1/api-keys', { body: { name: '' } })).status, 400);
  });

  test("another team's key sees none of this team's keys", async () => {
    const other = await otherTeamKey(h());
    const mine = await h().call('GET', '/v1/api-keys');
    const theirs = await h().call('GET', '/v1/api-keys', { key: other.key });
    assert.equal(theirs.status, 200);
    assert.deepEqual(
      theirs.json.apiKeys.map((k: { id: string }) => k.id),
      [other.id],
    );
    const myId = mine.json.apiKeys[0].id;
    assert.equal((await h().call('DELETE', `/v1/api-keys/${myId}`, { key: other.key })).status, 404);
  });
}

/** A second team with a key, made in the database (the API has no team administration yet). */
export async function otherTeamKey(h: Harness): Promise<{ id: string; key: string }> {
  const db = h.cp.db.db;
  const teamId = `team_other_${Date.now()}`;
  await db.insertInto('teams').values({ id: teamId, name: teamId, created_at: Date.now() }).execute();
  const created = await new KeyStore(db).create(teamId, 'other');
  return { id: created.id, key: created.key };
}
