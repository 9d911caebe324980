// Each sandbox's QEMU in a cgroup of its own, on a real VM: CPU quota of its vcpus, memory cap of guest RAM
// plus QEMU's overhead, all its threads inside; the budget counts the overhead and the pooled QEMUs; the
// cgroups go with the sandbox, and a restarting agent removes those a crash left.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { namespacePrefix } from './network/network-slot.js';
import { POOLED_QEMU_MIB, qemuOverheadMib } from './qemu-overhead.js';
import { spawnAgentChild } from './test-support/agent-child.js';
import { agentLeftovers, removeAgentLeftovers } from './test-support/leftovers.js';
import { startTestAgent, type TestAgent } from './test-support/test-agent.js';
import { hostCgroups } from './vm-launch.js';

const host = hostCgroups();
let t: TestAgent;
before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 4096, bootTimeoutMs: 300_000 });
});
after(async () => {
  await t?.stop();
});

const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').trim();

test('a sandbox QEMU runs in its own cgroup with its limits, removed on destroy', {
  skip: host.mode === 'none',
}, async () => {
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 256, vcpus: 2, ttlSeconds: 3600 } });
  assert.ok(sandbox);
  const runtime = t.agent.manager.get(sandbox.id).runtime;
  const cgroup = runtime?.cgroup;
  assert.ok(runtime && cgroup, 'the runtime has a cgroup');
  const overhead = qemuOverheadMib(t.agent.config);
  const capBytes = String((256 + overhead) * 1024 * 1024);
  if (cgroup.mode === 'v1') {
    const [cpu, memory, pids] = cgroup.dirs as [string, string, string];
    assert.equal(read(cpu, 'cpu.cfs_quota_us'), String(2 * Number(read(cpu, 'cpu.cfs_period_us'))));
    assert.equal(read(memory, 'memory.limit_in_bytes'), capBytes);
    assert.ok(Number(read(pids, 'pids.max')) > 0);
  } else {
    const [dir] = cgroup.dirs as [string];
    assert.match(read(dir, 'cpu.max'), /^200000 100000$/);
    assert.equal(read(dir, 'memory.max'), capBytes);
  }
  // Every thread of QEMU is inside, in every hierarchy.
  const threads = readdirSync(`/proc/${runtime.vm.pid}/task`).sort();
  for (const dir of cgroup.dirs) {
    const tasks = read(dir, cgroup.mode === 'v1' ? 'tasks' : 'cgroup.threads')
      .split('\n')
      .sort();
    assert.deepEqual(tasks, threads, `QEMU's threads in ${dir}`);
  }
  // The budget counts guest RAM and QEMU's own overhead.
  assert.equal(t.agent.manager.budget.committedMib, 256 + overhead);
  await t.client.destroySandbox({ sandboxId: sandbox.id });
  for (const dir of cgroup.dirs) assert.equal(existsSync(dir), false, `${dir} removed with the sandbox`);
  assert.equal(t.agent.manager.budget.committedMib, 0);
});

test('pooled QEMUs hold their share of the budget', async () => {
  const deadline = Date.now() + 60_000;
  while (t.agent.manager.budget.heldMib === 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(t.agent.manager.budget.heldMib % POOLED_QEMU_MIB, 0);
  assert.ok(t.agent.manager.budget.heldMib >= POOLED_QEMU_MIB, 'the pooled QEMU is counted');
});

test('a starting agent removes the cgroups its crashed predecessor left', {
  skip: host.mode === 'none',
}, async () => {
  const home = mkdtempSync(join(tmpdir(), 'amber-cgroup-test-'));
  const stale = host.parents.map((parent) => join(parent, `${namespacePrefix(home)}0123456789ab`));
  for (const dir of stale) mkdirSync(dir, { recursive: true });
  const agent = await spawnAgentChild(home, { AMBER_VM_POOL_SHAPES: '0' });
  try {
    for (const dir of stale) assert.equal(existsSync(dir), false, `${dir} removed at start`);
    // Stopped while its network slots are still being made in the background: none may outlive it.
    await agent.stop();
    assert.deepEqual(agentLeftovers(home, t.agent.config.shmDir), []);
  } finally {
    agent.child.kill('SIGKILL');
    await removeAgentLeftovers(home, t.agent.config.shmDir);
    rmSync(home, { recursive: true, force: true });
  }
});
