// The agent's side of envd's control channel against a real envd on loopback: a capture holds a control
// channel, a restore's init answers on it, and the next capture reuses it. (Real VMs take this path,
// TCP_REPAIR and all, in sandbox-snapshots.test.ts.)
import assert from 'node:assert/strict';
import { request, type Server } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createEnvdServer } from '@amber/envd';
import { guestAddonPath } from '@amber/native';
import { CONTROL_PROTOCOL, ControlChannel } from './control-channel.js';
import { EnvdClient } from './envd-client.js';

let server: Server;
let port: number;
/** Local ports of the connections envd accepted, in order. */
let accepted: number[] = [];

before(async () => {
  server = createEnvdServer({ addonPath: guestAddonPath });
  server.on('connection', (socket: Socket) => accepted.push(socket.remotePort ?? 0));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const client = () => new EnvdClient('/proc/self/ns/net', '127.0.0.1', port);
const guest = { alive: () => true, idle: async () => false };

/** A control channel's socket as a restore rebuilds it: switched already, nothing read from it yet. */
function switchedSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/control',
      headers: { connection: 'Upgrade', upgrade: CONTROL_PROTOCOL },
    });
    req.once('upgrade', (_res, socket: Socket) => resolve(socket));
    req.once('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.once('error', reject);
    req.end();
  });
}

async function envs(): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${port}/envs`);
  return (await res.json()) as Record<string, string>;
}

test('a capture holds a control channel, and the next capture reuses the one its restore answered on', async () => {
  accepted = [];
  const first = await client().sync();
  assert.equal(first.protocol, 'control');
  first.release();

  const socket = await switchedSocket();
  const restored = client();
  assert.deepEqual(await restored.initWhenReady(10_000, guest, { socket, protocol: 'control' }), {
    connection: 'resumed',
  });
  const next = await restored.sync();
  assert.equal(next.protocol, 'control');
  assert.equal(next.socket, socket, 'the capture holds the connection the restore answered on');
  assert.equal(accepted.length, 2, 'no connection beyond the two channels');
  next.release();
});

test('a rehearsal keeps its channel for the next capture, idle past the timeout it was opened with', async () => {
  accepted = [];
  const envd = client();
  await envd.rehearseRestore(300);
  await envd.rehearseRestore(300);
  await new Promise((r) => setTimeout(r, 600));
  const held = await envd.sync();
  assert.equal(held.protocol, 'control');
  assert.equal(accepted.length, 1, 'one channel carried all of it');
  held.release();
});

test('envd’s refusals come back as errors with a code; the channel stays usable', async () => {
  const channel = new ControlChannel(await switchedSocket());
  await assert.rejects(channel.call({ op: 'init', envVars: 'nope' }, 5000), {
    code: 'invalid_argument',
    message: /envVars must be an object/,
  });
  await assert.rejects(channel.call({ op: 'reboot' }, 5000), {
    code: 'invalid_argument',
    message: /unknown op/,
  });
  await channel.call({ op: 'init', envVars: { FROM_CONTROL: 'yes' } }, 5000);
  assert.equal((await envs()).FROM_CONTROL, 'yes');
  channel.destroy();
});

test('with an access token set, a request on the channel must carry it to change anything', async () => {
  const channel = new ControlChannel(await switchedSocket());
  await channel.call({ op: 'init', accessToken: 'secret-1' }, 5000);
  try {
    await assert.rejects(channel.call({ op: 'init', envVars: { X: '1' } }, 5000), {
      code: 'unauthenticated',
    });
    await assert.rejects(channel.call({ op: 'sync' }, 5000), { code: 'unauthenticated' });
    // The clock alone needs no token: a restore never waits on a secret.
    await channel.call({ op: 'init', timestamp: Date.now() }, 5000);
    await channel.call({ op: 'init', token: 'secret-1', accessToken: '' }, 5000);
  } finally {
    channel.destroy();
  }
});

test('a call on a closed channel fails at once; one unanswered in time ends the channel', async () => {
  const channel = new ControlChannel(await switchedSocket());
  channel.destroy();
  await assert.rejects(channel.call({ op: 'init' }, 5000), /closed/);

  // A peer that never answers: a late answer must not be taken for the next request's.
  const silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const socket = connect((silent.address() as { port: number }).port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const stuck = new ControlChannel(socket);
  await assert.rejects(stuck.call({ op: 'init' }, 200), /no answer in 200 ms/);
  assert.equal(stuck.usable, false);
  silent.close();
});
