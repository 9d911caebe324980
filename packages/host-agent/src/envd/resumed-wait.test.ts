// How long a restore waits for the resumed connection's /init, on real HTTP over loopback: a stand-in envd
// answers fresh connections at once and the held one late or never; the guest's idleness is what the VM
// would report. (Real VMs take the resumed path in sandbox-snapshots.test.ts.)
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { EnvdClient } from './envd-client.js';

let server: Server;
let port: number;
/** The held connection's local port, how long its /init waits before the answer (Infinity: never), and
 * whether fresh connections are answered. */
const held = { port: 0, delayMs: 0, answerFresh: true };
/** The timestamps fresh connections' /init carried. */
let freshInits: number[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.socket.remotePort !== held.port) {
        freshInits.push(JSON.parse(body).timestamp);
        if (held.answerFresh) res.writeHead(204).end();
        return;
      }
      if (Number.isFinite(held.delayMs)) setTimeout(() => res.writeHead(204).end(), held.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function heldConnection(delayMs: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  Object.assign(held, { port: socket.localPort, delayMs, answerFresh: true });
  freshInits = [];
  return socket;
}

const client = () => new EnvdClient('/proc/self/ns/net', '127.0.0.1', port);

test('a busy guest is waited for past 3 s: its late answer on the resumed connection counts', async () => {
  const socket = await heldConnection(4500);
  let looks = 0;
  const busy = async () => {
    looks++;
    return false;
  };
  const outcome = await client().initWhenReady(
    30_000,
    { alive: () => true, idle: busy },
    { socket, protocol: 'http' },
  );
  const answered = Date.now();
  assert.deepEqual(outcome, { connection: 'resumed' });
  assert.ok(looks >= 1, 'the guest was looked at once the patience ran out');
  // The late answer's clock may be 4.5 s behind: one more /init carries the time of the answer.
  assert.equal(freshInits.length, 1);
  assert.ok(
    answered - (freshInits[0] ?? 0) < 200,
    `a fresh timestamp (${answered - (freshInits[0] ?? 0)} ms old)`,
  );
});

test('an idle guest that does not answer is written off after 3 s; a new connection takes over', async () => {
  const socket = await heldConnection(Number.POSITIVE_INFINITY);
  const started = Date.now();
  const guest = { alive: () => true, idle: async () => true };
  const outcome = await client().initWhenReady(30_000, guest, { socket, protocol: 'http' });
  const waited = Date.now() - started;
  assert.equal(outcome.connection, 'new');
  assert.equal(freshInits.length, 1, 'one new connection did it');
  assert.match(String(outcome.connection === 'new' && outcome.resumeError), /the guest is idle/);
  assert.ok(waited >= 2900 && waited < 6000, `written off after ~3 s (${waited} ms)`);
  assert.equal(socket.destroyed, true, 'the written-off connection is closed');
});

test('a guest that stays busy but never answers is given up at the deadline', async () => {
  const socket = await heldConnection(Number.POSITIVE_INFINITY);
  held.answerFresh = false;
  const guest = { alive: () => true, idle: async () => false };
  await assert.rejects(
    client().initWhenReady(4000, guest, { socket, protocol: 'http' }),
    /did not answer within 4000 ms/,
  );
});
