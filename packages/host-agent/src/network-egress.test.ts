// Outbound internet per sandbox, from inside real guests, against a stand-in "internet": a server in a network
// namespace this test creates, joined to the host by a veth (TEST-NET-2 addresses). The agent may reach only
// that subnet (AMBER_EGRESS_ALLOW's config), so no packet leaves this machine. A sandbox with internet reaches
// the stand-in and still neither the host nor another sandbox; one without it reaches nothing. Internet is the
// agent's default here, so slots come from the pool with their way out made ahead, and the sandbox that asks
// for none has it taken away.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { execText, startTestAgent, type TestAgent } from './test-support/test-agent.js';

const NS = `amber-test-inet-${process.pid}`;
const VETH = `tinet${process.pid % 100000}`;
const INTERNET = { host: '198.51.100.1', server: '198.51.100.2', port: 8080 };
let t: TestAgent;
let internet: ChildProcess;
let hostServer: Server;
let hostPort = 0;
const hostAccepted: string[] = [];

/** The host's own IPv4 addresses (eth0's and the like). */
function hostIpv4s(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i?.family === 'IPv4')
    .map((i) => i?.address ?? '');
}

function ip(...args: string[]): void {
  execFileSync('ip', args);
}

before(async () => {
  ip('netns', 'add', NS);
  ip('link', 'add', VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS);
  ip('addr', 'add', `${INTERNET.host}/24`, 'dev', VETH);
  ip('link', 'set', VETH, 'up');
  ip('-n', NS, 'addr', 'add', `${INTERNET.server}/24`, 'dev', 'eth0');
  ip('-n', NS, 'link', 'set', 'eth0', 'up');
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  internet = spawn('ip', [
    'netns',
    'exec',
    NS,
    process.execPath,
    '-e',
    `require('net').createServer((s) => s.end('internet\\n')).listen(${INTERNET.port}, () => console.log('up'))`,
  ]);
  await new Promise<void>((resolve) => internet.stdout?.once('data', () => resolve()));
  hostServer = createServer((socket) => {
    hostAccepted.push(String(socket.remoteAddress));
    socket.end('host\n');
  });
  await new Promise<void>((resolve) => hostServer.listen(0, '::', resolve));
  const address = hostServer.address();
  hostPort = typeof address === 'object' && address ? address.port : 0;
  t = await startTestAgent({
    memoryBudgetMib: 4096,
    allowInternetByDefault: true,
    bootTimeoutMs: 300_000,
    egressAllow: [`${INTERNET.server}/32`],
  });
});
after(async () => {
  await t?.stop();
  internet?.kill();
  hostServer?.close();
  execFileSync('ip', ['netns', 'del', NS]);
});

/** Tries `host:port` from the guest for up to 3 s: 'connected <first line>' or the error code. */
async function reach(id: string, host: string, port: number): Promise<string> {
  const script = `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
s.setTimeout(3000, () => { console.log('timeout'); process.exit(0); });
s.on('data', (d) => { console.log('connected ' + String(d).trim()); process.exit(0); });
s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  const res = await execText(t.client, id, 'node', ['-e', script]);
  return res.stdout.trim();
}

test('a sandbox with internet reaches the stand-in internet, and still not the host or another sandbox', async () => {
  const [open, closed, other] = await Promise.all([
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } }),
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600, allowInternet: false } }),
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600, allowInternet: true } }),
  ]);
  const [withNet, without, neighbour] = [open, closed, other].map((c) => c.sandbox?.id ?? '') as [
    string,
    string,
    string,
  ];
  assert.equal(await reach(withNet, INTERNET.server, INTERNET.port), 'connected internet');
  assert.doesNotMatch(
    await reach(without, INTERNET.server, INTERNET.port),
    /connected/,
    'internet off: no way out',
  );

  // Still isolated with internet on: the host on its addresses (the stand-in's veth end included), and the
  // neighbour's namespace end of its veth.
  const neighbourIp = t.agent.manager.get(neighbour).runtime?.egress?.nsIp;
  assert.ok(neighbourIp, 'the neighbour has a way out too');
  for (const [host, port] of [
    [INTERNET.host, hostPort],
    ...hostIpv4s().map((addr) => [addr, hostPort] as const),
    [neighbourIp, 49983],
    [t.agent.manager.get(withNet).runtime?.egress?.hostIp ?? '', hostPort],
  ] as const) {
    assert.doesNotMatch(await reach(withNet, host, port), /connected/, `${host}:${port} must be unreachable`);
  }
  assert.deepEqual(hostAccepted, [], 'the host saw no connection from a guest');

  // Across a pause and resume (a new namespace, from the pool with its veth made ahead) each keeps its kind.
  for (const id of [withNet, without]) {
    await t.client.pauseSandbox({ sandboxId: id });
    await t.client.resumeSandbox({ sandboxId: id });
  }
  assert.ok(t.agent.manager.get(withNet).runtime?.slot.egress, 'the resumed slot came with its way out');
  assert.equal(await reach(withNet, INTERNET.server, INTERNET.port), 'connected internet');
  assert.doesNotMatch(await reach(without, INTERNET.server, INTERNET.port), /connected/, 'still no way out');
  await Promise.all([withNet, without, neighbour].map((id) => t.client.destroySandbox({ sandboxId: id })));
});
