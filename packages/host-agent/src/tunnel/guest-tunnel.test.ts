import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestAgent, type TestAgent } from '../test-support/test-agent.js';
import { tunnelPath } from './guest-tunnel.js';

const ENVD_PORT = 49983;

/** Sends the request line; resolves with the reply line and the socket (for the bytes after it). */
function ask(path: string, line: string): Promise<{ reply: string; socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline >= 0) {
        socket.removeAllListeners('data');
        resolve({
          reply: buffered.subarray(0, newline).toString(),
          socket,
          rest: buffered.subarray(newline + 1),
        });
      }
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(line));
  });
}

function readAll(socket: Socket, first: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks = [first];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', reject);
  });
}

let t: TestAgent;
let sandboxId: string;

let shmDir: string;

before(async () => {
  // Guest RAM in a directory of its own: an agent starting elsewhere clears sandbox RAM files in /dev/shm.
  shmDir = await mkdtemp('/dev/shm/tunnel-test-');
  t = await startTestAgent({ shmDir });
  const { sandbox } = await t.client.createSandbox({ spec: {} });
  assert.ok(sandbox);
  sandboxId = sandbox.id;
});
after(async () => {
  await t?.stop();
  await rm(shmDir, { recursive: true, force: true });
});

test('the tunnel socket is private to the agent user and named in GetHostInfo', async () => {
  const path = tunnelPath(t.home);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const info = await t.client.getHostInfo({});
  assert.equal(info.tunnelPath, path);
});

test('bytes reach envd in the guest and its answer comes back (HTTP over the tunnel)', async () => {
  const { reply, socket, rest } = await ask(tunnelPath(t.home), `${sandboxId} ${ENVD_PORT}\n`);
  assert.equal(reply, 'ok');
  socket.write('GET /health HTTP/1.1\r\nHost: envd\r\nConnection: close\r\n\r\n');
  const response = await readAll(socket, rest);
  assert.match(response, /^HTTP\/1\.1 204/);
});

test('bad requests get a JSON error line and a closed socket', async () => {
  const cases: Array<[string, string]> = [
    ['no-such-sandbox 49983\n', 'not_found'],
    ['just-one-word\n', 'invalid_argument'],
    [`${sandboxId} 0\n`, 'invalid_argument'],
    [`${sandboxId} 70000\n`, 'invalid_argument'],
    [`${sandboxId} 1\n`, 'unavailable'],
  ];
  for (const [line, code] of cases) {
    const { reply, socket } = await ask(tunnelPath(t.home), line);
    const parsed = JSON.parse(reply) as { error: { code: string; message: string } };
    assert.equal(parsed.error.code, code, `${line.trim()}: ${reply}`);
    assert.ok(parsed.error.message.length > 0);
    socket.destroy();
  }
});

test('a pause ends the connections open into the VM; then the sandbox is refused, naming its state', {
  timeout: 300_000,
}, async () => {
  // An idle kept-alive connection, like a stream waiting on a command's output: without the VM it would
  // never hear from the guest again, so the client would wait for ever.
  const open = await ask(tunnelPath(t.home), `${sandboxId} ${ENVD_PORT}\n`);
  assert.equal(open.reply, 'ok');
  const closed = new Promise<string>((resolve) => open.socket.once('close', () => resolve('closed')));
  await t.client.pauseSandbox({ sandboxId });
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 10_000).unref());
  assert.equal(await Promise.race([closed, timeout]), 'closed');
  const { reply, socket } = await ask(tunnelPath(t.home), `${sandboxId} ${ENVD_PORT}\n`);
  socket.destroy();
  const parsed = JSON.parse(reply) as { error: { code: string; message: string } };
  assert.equal(parsed.error.code, 'failed_precondition');
  assert.match(parsed.error.message, /paused/);
});
