import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Harness } from './harness.js';
import { b64, execStream } from './ws-client.js';

const MIN = 60_000;

/** What goes to envd over the agent's guest tunnel: file operations, users and terminals. */
export function envdContract(h: () => Harness, state: { id?: string }): void {
  test('files: mkdir, list with depth, move, delete', { timeout: 5 * MIN }, async () => {
    const id = state.id as string;
    const base = `/v1/sandboxes/${id}/files`;
    const made = await h().call('POST', `${base}/mkdir`, { body: { path: '/tmp/tree/sub' } });
    assert.equal(made.status, 200, made.text);
    assert.equal(made.json.entry.type, 'dir');
    assert.equal(made.json.entry.path, '/tmp/tree/sub');
    const again = await h().call('POST', `${base}/mkdir`, { body: { path: '/tmp/tree/sub' } });
    assert.equal(again.status, 409, again.text);
    const put = await h().call('PUT', `${base}?path=/tmp/tree/a.txt`, { raw: 'twelve bytes' });
    assert.equal(put.status, 200, put.text);
    const listed = await h().call('GET', `${base}/list?path=/tmp/tree&depth=2`);
    assert.equal(listed.status, 200, listed.text);
    const byPath = new Map(listed.json.entries.map((e: { path: string }) => [e.path, e]));
    assert.equal((byPath.get('/tmp/tree/a.txt') as { size: number; type: string }).size, 12);
    assert.equal((byPath.get('/tmp/tree/sub') as { type: string }).type, 'dir');
    const moved = await h().call('POST', `${base}/move`, {
      body: { from: '/tmp/tree/a.txt', to: '/tmp/tree/sub/b.txt' },
    });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.json.entry.path, '/tmp/tree/sub/b.txt');
    const sub = await h().call('GET', `${base}/list?path=/tmp/tree/sub`);
    assert.deepEqual(
      sub.json.entries.map((e: { name: string }) => e.name),
      ['b.txt'],
    );
    const read = await h().call('GET', `${base}?path=/tmp/tree/sub/b.txt`);
    assert.equal(read.text, 'twelve bytes');
    assert.equal((await h().call('DELETE', `${base}?path=/tmp/tree`)).status, 204);
    assert.equal((await h().call('GET', `${base}/list?path=/tmp/tree`)).status, 404);
    assert.equal((await h().call('GET', `${base}/list?path=/tmp&depth=11`)).status, 400);
  });

  test('exec as a named guest user', { timeout: 5 * MIN }, async () => {
    const id = state.id as string;
    for (const user of ['root', 'user']) {
      const res = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
        body: { command: 'id -un; cat', user, stdin: 'in' },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.stdout, `${user}\nin`);
    }
    const unknown = await h().call('POST', `/v1/sandboxes/${id}/exec`, {
      body: { command: 'true', user: 'nobody-here' },
    });
    assert.equal(unknown.status, 400, unknown.text);
    assert.match(unknown.json.error.message, /nobody-here/);
  });

  test('exec stream with a PTY: a terminal of the asked size, resized on request', {
    timeout: 5 * MIN,
  }, async () => {
    const id = state.id as string;
    let resized = false;
    const result = await execStream(
      h().cp.url,
      h().cp.apiKey,
      id,
      { command: 'stty size; read x; stty size', pty: true, cols: 100, rows: 30 },
      [],
      (stdout, socket) => {
        if (!resized && stdout.includes('30 100')) {
          resized = true;
          socket.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
          socket.send(JSON.stringify({ type: 'stdin', data: b64('go\r') }));
        }
      },
    );
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    assert.match(result.stdout, /30 100/);
    assert.match(result.stdout, /40 120/);
    assert.equal(result.exitCode, 0);
  });
}
