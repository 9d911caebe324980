// From inside real guests: a sandbox reaches neither the host's own services (on any host address, nor the
// agent), nor another sandbox. The host runs a TCP server on every address it has; the guests try it all.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { GUEST_NET } from './network/guest-net.js';
import { execText, startTestAgent, type TestAgent } from './test-support/test-agent.js';

let t: TestAgent;
let server: Server;
let port = 0;
const accepted: string[] = [];

before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 4096, allowInternetByDefault: false, bootTimeoutMs: 300_000 });
  server = createServer((socket) => {
    accepted.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.end('host\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});
after(async () => {
  server?.close();
  await t?.stop();
});

/** A node one-liner run in the guest: tries each target for up to 2 s, prints `<target> <outcome>` lines. */
function probeScript(targets: string[]): string {
  return `
const net = require('net');
const targets = ${JSON.stringify(targets)};
let left = targets.length;
for (const target of targets) {
  const i = target.lastIndexOf(':');
  const s = net.connect({ host: target.slice(0, i).replace(/^\\[|\\]$/g, ''), port: Number(target.slice(i + 1)) });
  const done = (outcome) => { if (s.done) return; s.done = true; console.log(target + ' ' + outcome); s.destroy(); if (--left === 0) process.exit(0); };
  s.setTimeout(2000, () => done('timeout'));
  s.on('data', () => done('connected'));
  s.on('connect', () => setTimeout(() => done('connected'), 300));
  s.on('error', (e) => done(e.code));
}`;
}

test('a guest cannot reach the host, the agent or another sandbox', async () => {
  const [a, b] = await Promise.all([
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } }),
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } }),
  ]);
  const idA = a.sandbox?.id ?? '';
  const idB = b.sandbox?.id ?? '';
  // B serves on a port; A must not reach it at B's address (every guest has the same one) or any other.
  const serve = await execText(t.client, idB, 'sh', [
    '-c',
    `nohup node -e "require('net').createServer((s) => s.end('b')).listen(8080)" >/dev/null 2>&1 &`,
  ]);
  assert.equal(serve.exitCode, 0);
  const sanity = await execText(t.client, idB, 'node', ['-e', probeScript(['127.0.0.1:8080'])]);
  assert.match(sanity.stdout, /127\.0\.0\.1:8080 connected/, 'the probe itself can connect when it should');

  const hostAddresses = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.address.startsWith('fe80'))
    .map((i) => (i?.family === 'IPv6' ? `[${i.address}]` : (i?.address ?? '')));
  const targets = [
    ...hostAddresses.map((addr) => `${addr}:${port}`),
    `${GUEST_NET.hostIp}:${port}`, // the tap's end, in the sandbox's own namespace
    `${GUEST_NET.hostIp}:8080`,
    `${GUEST_NET.guestIp}:8080`, // B's address: A's own
    '10.0.2.2:8080', // QEMU's user-mode gateway, in case a guest ever had one
  ];
  const probe = await execText(t.client, idA, 'node', ['-e', probeScript(targets)]);
  assert.equal(probe.exitCode, 0, probe.stderr);
  const lines = probe.stdout.trim().split('\n');
  assert.equal(lines.length, targets.length, probe.stdout);
  for (const line of lines) assert.doesNotMatch(line, / connected$/, `reachable from a guest: ${line}`);
  assert.deepEqual(accepted, [], 'the host server saw no connection from a guest');
  await Promise.all([idA, idB].map((id) => t.client.destroySandbox({ sandboxId: id })));
});
