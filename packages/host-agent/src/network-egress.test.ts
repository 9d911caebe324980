// Outbound internet per sandbox, from inside real guests, against a stand-in "internet": a server on two
// addresses in a network namespace this test creates (test-support/stand-in-internet.ts). The agent may
// reach only those (AMBER_EGRESS_ALLOW's config), so no packet leaves this machine. A sandbox with internet
// reaches the stand-in and still neither the host nor another sandbox; one without it reaches nothing; one
// with outbound rules (E2B's allowOut/denyOut) reaches what they allow, after an update and a pause/resume
// too. Internet is the agent's default here, so slots come from the pool with their way out made ahead, and
// the sandbox that asks for none has it taken away.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, test } from 'node:test';
import { reachScript, type StandInInternet, startStandInInternet } from './test-support/stand-in-internet.js';
import { execText, startTestAgent, type TestAgent } from './test-support/test-agent.js';

let t: TestAgent;
let inet: StandInInternet;
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

before(async () => {
  inet = await startStandInInternet('198.51.100', 'egr');
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
    egressAllow: [inet.allow],
  });
});
after(async () => {
  await t?.stop();
  inet?.stop();
  hostServer?.close();
});

/** Tries `host:port` from the guest for up to 3 s: 'connected <first line>' or the error code. */
async function reach(id: string, host: string, port: number): Promise<string> {
  const res = await execText(t.client, id, 'node', ['-e', reachScript(host, port)]);
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
  assert.equal(await reach(withNet, inet.servers[0], inet.port), `connected internet ${inet.servers[0]}`);
  assert.doesNotMatch(
    await reach(without, inet.servers[0], inet.port),
    /connected/,
    'internet off: no way out',
  );

  // Still isolated with internet on: the host on its addresses (the stand-in's veth end included), and the
  // neighbour's namespace end of its veth.
  const neighbourIp = t.agent.manager.get(neighbour).runtime?.egress?.nsIp;
  assert.ok(neighbourIp, 'the neighbour has a way out too');
  for (const [host, port] of [
    [inet.host, hostPort],
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
  assert.equal(await reach(withNet, inet.servers[0], inet.port), `connected internet ${inet.servers[0]}`);
  assert.doesNotMatch(await reach(without, inet.servers[0], inet.port), /connected/, 'still no way out');
  await Promise.all([withNet, without, neighbour].map((id) => t.client.destroySandbox({ sandboxId: id })));
});

test('outbound rules: denyOut blocks, allowOut wins over a denyOut of everything, updates apply live and survive a pause', async () => {
  const [a, b] = inet.servers;
  const [denyOne, allowOne] = await Promise.all([
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600, egress: { denyOut: [b] } } }),
    t.client.createSandbox({
      spec: { memoryMib: 256, ttlSeconds: 3600, egress: { denyOut: ['0.0.0.0/0'], allowOut: [a] } },
    }),
  ]);
  const [deny, allow] = [denyOne, allowOne].map((c) => c.sandbox?.id ?? '') as [string, string];
  assert.deepEqual(denyOne.sandbox?.egress?.denyOut, [`${b}/32`], 'normalised in the answer');
  /** Whether each server is reachable (one at a time: guests are slow on this emulating machine). */
  const seen = async (id: string) => [
    (await reach(id, a, inet.port)).startsWith('connected'),
    (await reach(id, b, inet.port)).startsWith('connected'),
  ];
  assert.deepEqual(await seen(deny), [true, false], 'denyOut of one server: the other is still reachable');
  assert.match(await reach(deny, b, inet.port), /EHOSTUNREACH/, 'refused at once, not left to time out');
  assert.deepEqual(await seen(allow), [true, false], 'allowOut is the only way through a denyOut of all');

  // Live updates replace the whole set.
  await t.client.updateEgressRules({ sandboxId: deny, rules: {} });
  assert.deepEqual(await seen(deny), [true, true], 'rules cleared');
  await t.client.updateEgressRules({ sandboxId: deny, rules: { denyOut: ['0.0.0.0/0'], allowOut: [b] } });
  assert.deepEqual(await seen(deny), [false, true], 'new rules in force');
  await assert.rejects(
    t.client.updateEgressRules({ sandboxId: deny, rules: { denyOut: ['example.com'] } }),
    /domain names are not supported/,
  );
  assert.deepEqual(await seen(deny), [false, true], 'a refused update changes nothing');

  // A pause and resume gives each a new namespace; their rules are applied again there.
  for (const id of [deny, allow]) {
    await t.client.pauseSandbox({ sandboxId: id });
    await t.client.resumeSandbox({ sandboxId: id });
  }
  assert.deepEqual(await seen(deny), [false, true], 'updated rules survive a pause');
  assert.deepEqual(await seen(allow), [true, false], 'create-time rules survive a pause');
  // A paused sandbox's update is kept for its next resume.
  await t.client.pauseSandbox({ sandboxId: allow });
  await t.client.updateEgressRules({ sandboxId: allow, rules: { denyOut: [a] } });
  await t.client.resumeSandbox({ sandboxId: allow });
  assert.deepEqual(await seen(allow), [false, true], 'an update while paused applies on resume');
  await Promise.all([deny, allow].map((id) => t.client.destroySandbox({ sandboxId: id })));
});

test('a resumed guest sends nothing its sandbox may not, not even before it is ready', async () => {
  const [a, b] = inet.servers;
  const [closed, ruled] = await Promise.all([
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600, allowInternet: false } }),
    t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600, egress: { denyOut: [a] } } }),
  ]);
  const [without, denied] = [closed, ruled].map((c) => c.sandbox?.id ?? '') as [string, string];
  // In each guest, a process knocking on a forbidden server every 5 ms, counting the doors that opened: it
  // runs again from the first instruction after a resume, before the guest agent has answered.
  const knock = (host: string) =>
    `setInterval(() => require("net").connect({ host: "${host}", port: ${inet.port} }).on("error", () => {}).on("connect", () => require("fs").appendFileSync("/root/opened", "x")), 5)`;
  for (const [id, host] of [
    [without, a],
    [denied, a],
  ] as const) {
    await execText(t.client, id, 'sh', ['-c', `printf '%s' '${knock(host)}' > /root/knock.js`]);
    const started = await execText(t.client, id, 'sh', ['-c', 'nohup node /root/knock.js >/dev/null 2>&1 &']);
    assert.equal(started.exitCode, 0, started.stderr);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const before = inet.accepted.length;
  for (const id of [without, denied]) {
    await t.client.pauseSandbox({ sandboxId: id });
    await t.client.resumeSandbox({ sandboxId: id });
  }
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(inet.accepted.length, before, 'the stand-in internet saw no connection from either');
  for (const id of [without, denied]) {
    const opened = await execText(t.client, id, 'sh', [
      '-c',
      'cat /root/opened 2>/dev/null; pgrep -f "^node /root/knock.js"',
    ]);
    assert.match(opened.stdout, /^\d+\n?$/, `the knocker still runs, and no door opened (${opened.stdout})`);
  }
  // What they may reach, they still reach: the rules are in force, not a dead network.
  assert.equal(await reach(denied, b, inet.port), `connected internet ${b}`);
  await Promise.all([without, denied].map((id) => t.client.destroySandbox({ sandboxId: id })));
});
