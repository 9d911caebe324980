// The connection a restore's /init answered on is kept for the next capture, on real HTTP over loopback: a
// stand-in envd from before the control channel (HTTP only) records which connection carried each request.
// (Real VMs take the control channel's path in sandbox-snapshots.test.ts; control-channel.test.ts is its twin.)
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { EnvdClient } from './envd-client.js';

let server: Server;
let port: number;
/** Each request as `<METHOD> <path> <client port>`. */
let requests: string[] = [];
/** Client ports whose connection the server saw closed. */
const closed = new Set<number>();

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push(`${req.method} ${req.url} ${req.socket.remotePort}`);
      res.writeHead(204).end();
    });
  });
  server.on('connection', (socket) => {
    const remote = socket.remotePort ?? 0;
    socket.once('close', () => closed.add(remote));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

/** A client whose restore answered on `resumed`, as after `initWhenReady`. */
async function restored(): Promise<{ client: EnvdClient; resumed: Socket; resumedPort: number }> {
  requests = [];
  const resumed = connect(port, '127.0.0.1');
  await new Promise((r) => resumed.once('connect', r));
  const client = new EnvdClient('/proc/self/ns/net', '127.0.0.1', port);
  const guest = { alive: () => true, idle: async () => false };
  assert.deepEqual(await client.initWhenReady(10_000, guest, { socket: resumed, protocol: 'http' }), {
    connection: 'resumed',
  });
  return { client, resumed, resumedPort: resumed.localPort ?? 0 };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the next capture’s /sync and /init go on the connection the restore’s /init answered on', async () => {
  const { client, resumed, resumedPort } = await restored();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(resumed.destroyed, false, 'kept open after the answer');
  assert.equal(closed.has(resumedPort), false, 'envd saw no close');
  const held = await client.sync();
  assert.equal(held.socket, resumed, 'the capture holds the same connection');
  assert.deepEqual(requests, [
    `POST /init ${resumedPort}`,
    `POST /sync ${resumedPort}`,
    `POST /init ${resumedPort}`,
  ]);
  held.release();
  await until('envd sees the close', () => closed.has(resumedPort));
});

test('a kept connection that envd closed meanwhile gives way to a new one', async () => {
  const { client, resumed, resumedPort } = await restored();
  server.closeAllConnections(); // as envd's keep-alive timeout does
  await until('the client sees the close', () => resumed.destroyed);
  const held = await client.sync();
  assert.notEqual(held.socket, resumed);
  const newPort = held.socket.localPort;
  // This stand-in is an envd from before the control channel: it answers the upgrade as a plain request.
  const probe = requests.find((r) => r.startsWith('GET /control '));
  assert.deepEqual(
    requests.filter((r) => r !== probe),
    [`POST /init ${resumedPort}`, `POST /sync ${newPort}`, `POST /init ${newPort}`],
  );
  assert.ok(probe, 'the control channel was asked for first');
  held.release();
});

test('close() ends the kept connection (a teardown frees the namespace it holds)', async () => {
  const { client, resumed, resumedPort } = await restored();
  client.close();
  assert.equal(resumed.destroyed, true);
  await until('envd sees the close', () => closed.has(resumedPort));
  // With nothing kept, a capture connects anew.
  const held = await client.sync();
  assert.notEqual(held.socket.localPort, resumedPort);
  held.release();
});
