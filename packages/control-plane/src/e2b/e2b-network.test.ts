// The e2b SDK's network options against a real Amber with real VMs: `Sandbox.create({network})`,
// `updateNetwork` (instance and static) and `allowInternetAccess`, taking effect inside the guest. Its own
// control plane: sandboxes here have internet, confined by the agent to a stand-in "internet" in a
// namespace this test makes (no packet leaves the machine). What the guest reaches is checked through the
// agent's own exec, so this file depends on the SDK only for what it tests.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ALL_TRAFFIC, Sandbox, SandboxError } from 'e2b';
import {
  reachScript,
  type StandInInternet,
  startStandInInternet,
} from '../../../host-agent/src/test-support/stand-in-internet.js';
import { type Harness, startHarness } from '../test-support/harness.js';

const MIN = 60_000;
const slow = { requestTimeoutMs: 10 * MIN };
let h: Harness;
let inet: StandInInternet;

before(async () => {
  inet = await startStandInInternet('203.0.113', 'e2n');
  h = await startHarness({ agentConfig: { allowInternetByDefault: true, egressAllow: [inet.allow] } });
  process.env.E2B_API_URL = `${h.cp.url}/e2b`;
  process.env.E2B_SANDBOX_URL = `${h.cp.url}/e2b/envd`;
  process.env.E2B_API_KEY = h.cp.apiKey;
  process.env.E2B_DOMAIN = `localhost:${h.cp.port}`;
});

after(async () => {
  await h?.stop();
  inet?.stop();
});

/** Whether each stand-in server answers from inside the sandbox. */
async function seen(id: string): Promise<boolean[]> {
  const agent = h.cp.agent;
  assert.ok(agent, 'the control plane runs its agent in process');
  const out: boolean[] = [];
  for (const host of inet.servers) {
    let stdout = '';
    for await (const e of agent.manager.exec(id, {
      cmd: 'node',
      args: ['-e', reachScript(host, inet.port)],
      envs: {},
    }))
      if (e.stdout) stdout += Buffer.from(e.stdout).toString();
    out.push(stdout.startsWith('connected'));
  }
  return out;
}

test('network: create with allowOut/denyOut, updateNetwork, allowInternetAccess', {
  timeout: 20 * MIN,
}, async () => {
  const [a] = inet.servers;
  const net = await Sandbox.create({ network: { denyOut: [ALL_TRAFFIC], allowOut: [a] }, ...slow });
  try {
    assert.deepEqual(await seen(net.sandboxId), [true, false], 'only allowOut gets through a denyOut of all');
    const info = (await net.getInfo()).network;
    assert.deepEqual([info?.allowOut, info?.denyOut], [[`${a}/32`], [ALL_TRAFFIC]], 'getInfo shows them');

    // updateNetwork replaces the whole configuration.
    await net.updateNetwork({ denyOut: [a] });
    assert.deepEqual(await seen(net.sandboxId), [false, true], 'the new rules, and nothing of the old');
    await Sandbox.updateNetwork(net.sandboxId, { allowInternetAccess: false });
    assert.deepEqual(await seen(net.sandboxId), [false, false], 'allowInternetAccess: false denies all');
    assert.equal((await net.getInfo()).allowInternetAccess, false);
    await net.updateNetwork({});
    assert.deepEqual(await seen(net.sandboxId), [true, true], 'an empty update clears the rules');
    const bad = await net.updateNetwork({ denyOut: ['10.0.0.0/33'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(bad instanceof SandboxError, String(bad));
    assert.match(bad.message, /^400: network\.denyOut: "10\.0\.0\.0\/33" is not an IPv4 address or CIDR/);
  } finally {
    await net.kill();
  }
});
