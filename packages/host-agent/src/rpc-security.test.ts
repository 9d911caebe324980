// Who may call the agent: a unix socket only its owner can open, loopback, or a bearer token. No VM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HostAgentService } from '@amber/proto/hostagent';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { pino } from 'pino';
import { startAgent } from './agent.js';
import { namespacePrefix } from './network/network-slot.js';
import { connectHostAgent } from './rpc/client.js';
import { agentLeftovers, namespaces, processesNaming } from './test-support/leftovers.js';
import { startTestAgent } from './test-support/test-agent.js';

const cliMain = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));
const silent = pino({ level: 'silent' });

function unauthenticated(err: unknown): true {
  assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
  assert.equal(err.code, Code.Unauthenticated, err.message);
  assert.match(err.rawMessage, /a valid agent token is required/);
  return true;
}

test('`amber agent` on 0.0.0.0 without a token exits non-zero at once, having started nothing', async (t) => {
  const home = join(await mkdtemp(join(tmpdir(), 'amber-refuse-')), 'home');
  t.after(() => rm(join(home, '..'), { recursive: true, force: true }));
  const { AMBER_AGENT_TOKEN: _token, NODE_TEST_CONTEXT: _context, ...env } = process.env;
  const child = spawn(
    process.execPath,
    [
      '--conditions=amber-source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(cliMain)}); await main(process.argv);`,
      'amber',
      'agent',
      '--listen',
      '0.0.0.0:0',
      '--home',
      home,
    ],
    { env: { ...env, AMBER_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // The event: the process ends on its own. Before the fix it kept running (its pooled QEMU held it):
  // a generous bound turns that into a failure with a reason instead of the runner's per-test timeout.
  const code = await new Promise<number | null | 'still running'>((resolve) => {
    child.once('exit', (c) => resolve(c));
    setTimeout(() => resolve('still running'), 120_000).unref();
  });
  assert.equal(code, 1, stderr);
  assert.match(stderr, /refusing to listen on 0\.0\.0\.0:0 without a token \(set AMBER_AGENT_TOKEN\)/);
  assert.equal(existsSync(home), false, 'not even its home was created');
  assert.deepEqual(processesNaming(home), [], 'no QEMU was launched ahead');
  const prefix = namespacePrefix(home);
  assert.deepEqual(
    namespaces().filter((n) => n.startsWith(prefix)),
    [],
    'no network namespace was made',
  );
});

test('startAgent refuses a non-loopback address without a token before touching anything', async () => {
  const home = join(tmpdir(), `amber-refuse-${process.pid}-${Date.now()}`);
  for (const listen of ['0.0.0.0:0', '[::]:0', '10.1.2.3:7000', 'example.invalid:7000'])
    await assert.rejects(
      startAgent({ config: { home, listen }, log: silent }),
      /refusing to listen on .* without a token/,
    );
  assert.equal(existsSync(home), false);
});

test('over TCP with a token: none, a wrong one, or one without "Bearer" is refused; the right one works', async (t) => {
  const token = 'correct-horse-battery-staple';
  // Listening on every address, so the token is what guards it (the test connects over loopback).
  const agent = await startTestAgent({ listen: '0.0.0.0:0', token, vmPoolShapes: 0 });
  t.after(() => agent.stop());
  const port = agent.agent.server.url.split(':').at(-1);
  const address = `127.0.0.1:${port}`;
  const connections = [
    connectHostAgent(address),
    connectHostAgent(address, 'wrong-horse-battery-staple'),
    connectHostAgent(address, `${token}x`),
    connectHostAgent(address, token),
  ];
  t.after(() => {
    for (const c of connections) c.close();
  });
  const [none, wrong, longer, right] = connections.map((c) => c.client);
  for (const client of [none, wrong, longer]) {
    assert.ok(client);
    await assert.rejects(client.listSandboxes({}), unauthenticated);
    // Refused before any handler runs: even a call with bad input is refused for the token first.
    await assert.rejects(client.getSandbox({ sandboxId: '../etc' }), unauthenticated);
  }
  assert.deepEqual((await right?.listSandboxes({}))?.sandboxes, []);

  // The token alone, without its scheme, is refused too.
  const session = new Http2SessionManager(`http://${address}`);
  t.after(() => session.abort());
  const bare = createClient(
    HostAgentService,
    createConnectTransport({
      baseUrl: `http://${address}`,
      httpVersion: '2',
      sessionManager: session,
      interceptors: [
        (next) => (req) => {
          req.header.set('authorization', token);
          return next(req);
        },
      ],
    }),
  );
  await assert.rejects(bare.listSandboxes({}), unauthenticated);
});

test('on loopback without a token the agent serves; its unix socket is 0600', async (t) => {
  const agent = await startTestAgent({ vmPoolShapes: 0 });
  t.after(() => agent.stop());
  const socket = agent.agent.server.url.replace(/^unix:/, '');
  assert.equal(statSync(socket).mode & 0o777, 0o600, 'only the owner may open the socket');
  assert.deepEqual((await agent.client.listSandboxes({})).sandboxes, []);

  const tcp = await startAgent({
    config: {
      home: join(agent.home, 'tcp'),
      shmDir: agent.agent.config.shmDir,
      listen: '127.0.0.1:0',
      vmPoolShapes: 0,
    },
    log: silent,
    image: agent.agent.manager.image,
  });
  const client = connectHostAgent(tcp.server.url);
  try {
    assert.deepEqual((await client.client.listSandboxes({})).sandboxes, []);
  } finally {
    client.close();
    await tcp.close();
  }
  assert.deepEqual(agentLeftovers(join(agent.home, 'tcp'), tcp.config.shmDir), []);
});

test('the in-process client answers as the socket does, errors included, and is refused once the agent stops', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'amber-local-'));
  const shmDir = await mkdtemp('/dev/shm/amber-local-');
  t.after(() =>
    Promise.all([rm(home, { recursive: true, force: true }), rm(shmDir, { recursive: true, force: true })]),
  );
  const agent = await startAgent({
    config: { home, shmDir, listen: `unix:${join(home, 'agent.sock')}`, vmPoolShapes: 0 },
    log: silent,
  });
  const socket = connectHostAgent(agent.server.url);
  const local = agent.connectLocal();
  try {
    const [viaSocket, viaLocal] = await Promise.all([
      socket.client.getHostInfo({}),
      local.client.getHostInfo({}),
    ]);
    assert.deepEqual(viaLocal, viaSocket);
    for (const client of [socket.client, local.client]) {
      await assert.rejects(client.destroySandbox({ sandboxId: 'sbx_missing' }), (err: unknown) => {
        assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
        assert.equal(err.code, Code.NotFound, err.message);
        return true;
      });
    }
  } finally {
    socket.close();
    await agent.close();
  }
  await assert.rejects(local.client.listSandboxes({}), (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
    assert.equal(err.code, Code.Unavailable);
    assert.match(err.rawMessage, /the host agent is stopping/);
    return true;
  });
  assert.deepEqual(agentLeftovers(home, shmDir), []);
});
