// kill -9 of the host agent: while sandboxes run, the restarted agent adopts their VMs (a lazily restored one
// waits for its new pager), and they run on with nothing lost; in the middle of a pause and of a MergeDiffs,
// the sandbox comes back paused at its last good snapshot and resumes with its memory, processes and disk
// intact.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SandboxState } from '@amber/proto/hostagent';
import { namespacePrefix } from './network/network-slot.js';
import { qemuPidsUnder } from './recovery.js';
import { connectHostAgent, type HostAgentClient } from './rpc/client.js';
import { startKeeper, verifyKeeper } from './test-support/keeper.js';
import { execText, readText, writeText } from './test-support/test-agent.js';

const agentMain = fileURLToPath(new URL('./test-support/agent-process.ts', import.meta.url));

interface AgentProcess {
  child: ChildProcess;
  client: HostAgentClient;
  logs: string[];
  close(): void;
  exited: Promise<void>;
}

async function spawnAgent(home: string, env: Record<string, string>): Promise<AgentProcess> {
  const child = spawn(process.execPath, ['--conditions=amber-source', '--import', 'tsx', agentMain], {
    env: { ...process.env, AMBER_HOME: home, AMBER_AGENT_LISTEN: `unix:${join(home, 'agent.sock')}`, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      logs.push(line);
      if (line.includes('agent process ready')) resolve();
    });
    void exited.then(() => reject(new Error(`agent exited before it was ready:\n${logs.join('\n')}`)));
  });
  await ready;
  const { client, close } = connectHostAgent(`unix:${join(home, 'agent.sock')}`);
  return { child, client, logs, close, exited };
}

/** Alive and not a zombie waiting to be reaped by whoever inherited it. */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitForLog(agent: AgentProcess, text: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!agent.logs.some((l) => l.includes(text))) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in the agent log`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function assertIntact(client: HostAgentClient, id: string, files: string[], atLeast: number) {
  const { sandbox } = await client.getSandbox({ sandboxId: id });
  assert.equal(sandbox?.state, SandboxState.PAUSED, 'recovered as paused');
  await client.resumeSandbox({ sandboxId: id });
  const { counter, result } = await verifyKeeper(client, id);
  assert.equal(result, 'ok');
  assert.ok(counter >= atLeast, `counter ${counter} is at least the snapshot's ${atLeast}`);
  for (const name of files) assert.equal(await readText(client, id, `/root/${name}`), `${name}\n`);
  return counter;
}

test('kill -9 of the agent mid-pause and mid-merge loses nothing committed', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'amber-crash-test-'));
  const crashFile = join(home, 'crash-at');
  // Guest RAM in a tmpfs directory of its own (see startTestAgent): other agents' recoveries stay out of it.
  const shmDir = await mkdtemp('/dev/shm/amber-crash-test-');
  const env = {
    AMBER_TEST_CRASH_FILE: crashFile,
    AMBER_GENERATION_CAP: '3',
    AMBER_LOG_LEVEL: 'info',
    AMBER_SHM_DIR: shmDir,
  };
  let agent = await spawnAgent(home, env);
  t.after(async () => {
    agent.child.kill('SIGKILL');
    agent.close();
    const final = await spawnAgent(home, env);
    for (const s of (await final.client.listSandboxes({})).sandboxes) {
      await final.client.destroySandbox({ sandboxId: s.id });
    }
    final.child.kill('SIGTERM');
    await final.exited;
    final.close();
    await rm(home, { recursive: true, force: true });
    await rm(shmDir, { recursive: true, force: true });
  });

  const { sandbox } = await agent.client.createSandbox({ spec: { memoryMib: 384 } });
  assert.ok(sandbox);
  const id = sandbox.id;
  await startKeeper(agent.client, id, 16);
  await writeText(agent.client, id, '/root/a', 'a\n');
  await agent.client.pauseSandbox({ sandboxId: id });
  await agent.client.resumeSandbox({ sandboxId: id });
  await writeText(agent.client, id, '/root/b', 'b\n');
  await agent.client.pauseSandbox({ sandboxId: id }); // generation 1: the last good snapshot
  await agent.client.resumeSandbox({ sandboxId: id });
  await writeText(agent.client, id, '/root/lost', 'lost\n');

  // As if a working-set recording had been cut short by the crash, too.
  const halfWorkingSet = join(home, 'sandboxes', id, 'snapshot', 'working-set.bin.tmp-0123456789ab');
  /** Arms a crash point, pauses (the agent dies there), and starts a new agent on the same home. */
  const pauseAndCrashAt = async (step: string) => {
    await writeFile(crashFile, step);
    await assert.rejects(agent.client.pauseSandbox({ sandboxId: id }));
    await agent.exited;
    agent.close();
    await rm(crashFile);
    await writeFile(halfWorkingSet, 'half');
    agent = await spawnAgent(home, env);
    assert.equal(existsSync(halfWorkingSet), false, 'a half-written working set is removed at restart');
  };

  // A cold-booted sandbox that was never paused runs beside the lazily restored one.
  const { sandbox: bystander } = await agent.client.createSandbox({ spec: { memoryMib: 256 } });
  assert.ok(bystander);
  /** QEMU's pid from the sandbox's record (written in the background after a resume). */
  const pidOf = async (sandboxId: string) => {
    const path = join(home, 'sandboxes', sandboxId, 'sandbox.json');
    for (let i = 0; i < 100; i++) {
      const pid = (JSON.parse(readFileSync(path, 'utf8')) as { qemuPid?: number }).qemuPid;
      if (pid) return pid;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no QEMU pid in ${path}`);
  };
  const [ownPid, bystanderPid] = [await pidOf(id), await pidOf(bystander.id)];

  // A plain kill -9 while both run: both VMs outlive the agent and the next one adopts them, running on.
  const before = (await verifyKeeper(agent.client, id)).counter;
  agent.child.kill('SIGKILL');
  await agent.exited;
  agent.close();
  agent = await spawnAgent(home, env);
  for (const [sandboxId, pid] of [
    [id, ownPid],
    [bystander.id, bystanderPid],
  ] as const) {
    const { sandbox: adopted } = await agent.client.getSandbox({ sandboxId });
    assert.equal(adopted?.state, SandboxState.RUNNING, 'adopted, still running');
    assert.ok(isRunning(pid), 'in the same VM');
  }
  // Its memory served on by the new pager: every page of the keeper as it should be, and it kept counting.
  const adopted = await verifyKeeper(agent.client, id);
  assert.equal(adopted.result, 'ok');
  assert.ok(adopted.counter > before, `the keeper counted on (${before} -> ${adopted.counter})`);
  assert.equal(await readText(agent.client, id, '/root/lost'), 'lost\n');
  // And a pause after the takeover misses nothing written before or after it.
  await writeText(agent.client, id, '/root/after-adoption', 'x\n');
  await agent.client.pauseSandbox({ sandboxId: id });
  await agent.client.resumeSandbox({ sandboxId: id });
  assert.equal((await verifyKeeper(agent.client, id)).result, 'ok');
  assert.equal(await readText(agent.client, id, '/root/after-adoption'), 'x\n');
  assert.equal(await readText(agent.client, id, '/root/lost'), 'lost\n');
  await execText(agent.client, id, 'rm', ['/root/lost', '/root/after-adoption']);
  // The keeper's count when this snapshot is taken: every crash before the next commit comes back to it.
  const atLastGood = (await verifyKeeper(agent.client, id)).counter;
  await agent.client.pauseSandbox({ sandboxId: id }); // the last good snapshot again: a, b and no more
  await agent.client.resumeSandbox({ sandboxId: id });
  await writeText(agent.client, id, '/root/lost', 'lost\n');

  // Mid-pause: the device state and the frozen disk are written, the memory generation is not. The
  // stopped VM is not adopted; the bystander, running, is again.
  const ours = namespacePrefix(home);
  const namespacesBefore = readdirSync('/run/netns').filter((name) => name.startsWith(ours));
  assert.ok(namespacesBefore.length >= 2, 'both VMs run in namespaces of their own');
  const bystanderNetns = namespacesBefore.filter((name) =>
    readFileSync(join(home, 'sandboxes', bystander.id, 'sandbox.json'), 'utf8').includes(name),
  );
  assert.equal(bystanderNetns.length, 1);

  const pooledBefore = await qemuPidsUnder(join(home, 'pool'));
  assert.ok(pooledBefore.length >= 1, 'a QEMU was launched ahead for the next resume');
  await pauseAndCrashAt('capture:devices-saved');
  assert.equal(isRunning(bystanderPid), true, 'the running bystander was adopted again');
  for (const pid of pooledBefore) assert.equal(isRunning(pid), false, 'no orphan pooled QEMU');
  for (const name of namespacesBefore) {
    if (name === bystanderNetns[0]) continue;
    assert.equal(existsSync(`/run/netns/${name}`), false, `no orphan network namespace (${name})`);
  }
  const listed = (await agent.client.listSandboxes({})).sandboxes.map((s) => s.id);
  assert.deepEqual(listed.sort(), [id, bystander.id].sort());
  assert.equal((await execText(agent.client, bystander.id, 'true')).exitCode, 0, 'the bystander works');
  await agent.client.destroySandbox({ sandboxId: bystander.id });
  assert.equal(isRunning(bystanderPid), false);
  await assertIntact(agent.client, id, ['a', 'b'], atLastGood);
  const lost = await execText(agent.client, id, 'ls', ['/root/lost']);
  assert.notEqual(lost.exitCode, 0, 'the disk is the snapshot disk, not what was written after it');

  // At the other capture steps: the disk layer frozen (nothing else of the generation written), and the
  // generation committed but its garbage not yet collected. The first leaves the last snapshot; the
  // second the new one, which holds what was written after the last snapshot.
  await writeText(agent.client, id, '/root/c', 'c\n');
  await pauseAndCrashAt('capture:disk-frozen');
  // The same snapshot as after the last crash: its count, not the one seen after that resume.
  let counter = await assertIntact(agent.client, id, ['a', 'b'], atLastGood);
  assert.notEqual(
    (await execText(agent.client, id, 'ls', ['/root/c'])).exitCode,
    0,
    'c came after the snapshot',
  );
  await writeText(agent.client, id, '/root/c', 'c\n');
  await pauseAndCrashAt('capture:committed');
  counter = await assertIntact(agent.client, id, ['a', 'b', 'c'], counter);

  // Mid-merge (the chain reaches the cap of 3): once at a fixed step, once at a random instant.
  await writeText(agent.client, id, '/root/d', 'd\n');
  await pauseAndCrashAt('merge:disk-collapsed');
  counter = await assertIntact(agent.client, id, ['a', 'b', 'c', 'd'], counter);

  await writeText(agent.client, id, '/root/e', 'e\n');
  const pausing = agent.client.pauseSandbox({ sandboxId: id }).catch(() => undefined);
  await waitForLog(agent, 'merge started');
  await new Promise((r) => setTimeout(r, Math.random() * 30));
  agent.child.kill('SIGKILL');
  await pausing;
  await agent.exited;
  agent.close();
  // The agent logs synchronously, so its log is complete up to the kill: it started the merge and never
  // finished it. (Were the merge done, this would not be a crash mid-merge.) The pause's new generation
  // was committed before the merge started, so e is in the snapshot either way.
  assert.ok(!agent.logs.some((l) => l.includes('generations merged')), 'the kill landed mid-merge');
  agent = await spawnAgent(home, env);
  await assertIntact(agent.client, id, ['a', 'b', 'c', 'd', 'e'], counter);
});
