import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GuestPool } from './guest-pool.js';

// The pool against a stand-in for the host agent's tunnel (its line protocol, `<id> <port>\n` -> `ok\n`,
// then raw bytes) in front of a real HTTP server: a real tunnel needs a VM, which the e2b SDK tests and
// `npm run bench -- e2b` bring; here the point is which connections the pool opens, reuses and drops.
let dir: string;
let tunnel: ReturnType<typeof createNetServer>;
let http: Server;
let opened = 0;
const live = new Set<Socket>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'guest-pool-'));
  http = createServer((req, res) => {
    req.resume();
    // A streamed answer, so reuse is checked after a response that came in pieces.
    res.write('a');
    // /slow: a long answer, like a command's output stream.
    setTimeout(() => res.end(`b ${req.url}`), req.url === '/slow' ? 300 : 5);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as AddressInfo).port;
  tunnel = createNetServer((client) => {
    client.once('data', (line) => {
      assert.match(line.toString(), /^sbx1 49983\n$/);
      opened++;
      const upstream = connect(port, '127.0.0.1', () => {
        client.write('ok\n');
        client.pipe(upstream).pipe(client);
      });
      live.add(client);
      client.on('close', () => {
        live.delete(client);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
    });
  });
  await new Promise<void>((r) => tunnel.listen(join(dir, 'tunnel.sock'), r));
});

after(async () => {
  await new Promise((r) => tunnel.close(r));
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function get(pool: GuestPool, epoch: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { path, agent: pool.agentFor(join(dir, 'tunnel.sock'), 'sbx1', 49983, epoch) },
      (res: IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve(body));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('requests in one epoch share a tunnel connection; concurrent ones open more', async () => {
  const pool = new GuestPool(60_000);
  opened = 0;
  for (let i = 0; i < 5; i++) assert.equal(await get(pool, 1, `/r${i}`), `ab /r${i}`);
  assert.equal(opened, 1);
  const many = await Promise.all([1, 2, 3].map((i) => get(pool, 1, `/c${i}`)));
  assert.deepEqual(many, ['ab /c1', 'ab /c2', 'ab /c3']);
  assert.equal(opened, 3);
  pool.close();
  await settle();
  assert.equal(live.size, 0, 'close() leaves no tunnel connection open');
});

test('a new epoch (pause, resume, kill) drops the old connections', async () => {
  const pool = new GuestPool(60_000);
  opened = 0;
  await get(pool, 1, '/x');
  await get(pool, 2, '/y');
  assert.equal(opened, 2);
  await settle();
  assert.equal(live.size, 1, 'the first epoch’s connection is closed');
  pool.close();
  await settle();
});

test('a change that is not of state (timeout, network) leaves requests in flight alone', async () => {
  const pool = new GuestPool(60_000);
  opened = 0;
  const slow = get(pool, 1, '/slow');
  await settle();
  // The row's epoch moved on (setTimeout) while the stream runs; the next request must not cut it.
  assert.equal(await get(pool, 2, '/y'), 'ab /y');
  assert.equal(await slow, 'ab /slow');
  await settle();
  assert.equal(live.size, 1, 'the old epoch’s connection closed once its answer was done');
  pool.close();
  await settle();
});

test('idle connections close after the idle time; the next request opens a new one', async () => {
  const pool = new GuestPool(150);
  opened = 0;
  await get(pool, 1, '/x');
  assert.equal(live.size, 1);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(live.size, 0, 'the idle connection was closed');
  await get(pool, 1, '/y');
  assert.equal(opened, 2);
  pool.close();
  await settle();
});
