// SIGTERM of the agent (what `amber down` sends) pauses every running sandbox before it exits, on real VMs:
// the next agent has them paused with their memory, processes and disk as they were at the stop; one whose
// pause fails is reported by id and left running, and the next agent adopts it with nothing lost.
// The next agent is also an upgrade: the first one gives its guests an HPET (as Amber did before turning it
// off), so their snapshots must restore into VMs that have one, while the new agent's own VMs have none.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SandboxState } from '@amber/proto/hostagent';
import { type AgentChild, logEntries, spawnAgentChild } from './test-support/agent-child.js';
import { readSequence, sequenceLength, startSequenceWriter } from './test-support/sequence-writer.js';
import { readText, writeText } from './test-support/test-agent.js';

function qemuCommandLines(): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')];
      } catch {
        return []; // gone meanwhile
      }
    })
    .filter((line) => line.startsWith('qemu-system'));
}

function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('SIGTERM pauses every running sandbox; the next agent resumes them with nothing lost', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'amber-stop-test-'));
  let agent: AgentChild = await spawnAgentChild(home, { AMBER_GUEST_HPET: '1' });
  t.after(async () => {
    agent.child.kill('SIGKILL');
    agent.close();
    const final = await spawnAgentChild(home);
    for (const s of (await final.client.listSandboxes({})).sandboxes)
      await final.client.destroySandbox({ sandboxId: s.id });
    await final.stop();
    await rm(home, { recursive: true, force: true });
  });
  const create = async () => {
    const { sandbox } = await agent.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } });
    assert.ok(sandbox);
    return sandbox.id;
  };

  // Cold-booted, never paused: before this change it was lost at every stop.
  const cold = await create();
  await startSequenceWriter(agent.client, cold);
  await writeText(agent.client, cold, '/root/cold', 'cold\n');
  // Lazily restored: its memory is served by the agent's pager until the stop.
  const lazy = await create();
  await agent.client.pauseSandbox({ sandboxId: lazy });
  await agent.client.resumeSandbox({ sandboxId: lazy });
  await startSequenceWriter(agent.client, lazy);
  await writeText(agent.client, lazy, '/root/lazy', 'lazy\n');
  // One whose pause at the stop fails: its snapshot directory is swapped for an empty one.
  const failing = await create();
  await writeText(agent.client, failing, '/root/kept', 'kept\n');
  await agent.client.pauseSandbox({ sandboxId: failing });
  await agent.client.resumeSandbox({ sandboxId: failing });
  await writeText(agent.client, failing, '/root/lost', 'lost\n');
  const failingSnapshot = join(home, 'sandboxes', failing, 'snapshot');
  await rename(failingSnapshot, `${failingSnapshot}.aside`);
  await mkdir(failingSnapshot);

  const before = {
    cold: await readSequence(agent.client, cold),
    lazy: await readSequence(agent.client, lazy),
  };
  const pids = [cold, lazy].map(
    (id) =>
      (JSON.parse(readFileSync(join(home, 'sandboxes', id, 'sandbox.json'), 'utf8')) as { qemuPid: number })
        .qemuPid,
  );
  agent.child.kill('SIGTERM');
  const exit = await agent.exited;
  agent.close();
  assert.equal(exit.code, 0, 'the agent exits cleanly after the pauses');
  const [summary] = logEntries(agent, 'sandboxes not paused at the stop');
  assert.ok(summary, `a summary of the stop in the log:\n${agent.logs.slice(-20).join('\n')}`);
  assert.deepEqual(summary.failed, [failing], 'the sandbox whose pause failed is named');
  assert.equal(summary.paused, 2);
  for (const pid of pids) assert.equal(isRunning(pid), false, `QEMU ${pid} ended with its pause`);
  for (const id of [cold, lazy]) {
    const record = JSON.parse(readFileSync(join(home, 'sandboxes', id, 'sandbox.json'), 'utf8'));
    assert.equal(record.state, 'paused', `${id} is recorded paused`);
  }
  await rm(failingSnapshot, { recursive: true });
  await rename(`${failingSnapshot}.aside`, failingSnapshot);

  agent = await spawnAgentChild(home);
  const listed = (await agent.client.listSandboxes({})).sandboxes;
  assert.deepEqual(listed.map((s) => s.id).sort(), [cold, failing, lazy].sort(), 'every sandbox is there');
  for (const s of listed) {
    const expected = s.id === failing ? SandboxState.RUNNING : SandboxState.PAUSED;
    assert.equal(s.state, expected, `${s.id} comes back ${s.id === failing ? 'running' : 'paused'}`);
  }

  for (const [id, name] of [
    [cold, 'cold'],
    [lazy, 'lazy'],
  ] as const) {
    const { sandbox } = await agent.client.resumeSandbox({ sandboxId: id });
    assert.equal(sandbox?.state, SandboxState.RUNNING);
    const at = await readSequence(agent.client, id);
    assert.ok(
      at >= before[name],
      `${name}: ${at} numbers, at least the ${before[name]} seen before the stop`,
    );
    await sequenceLength(agent.client, id, at); // the writer is alive and continues without a gap
    assert.equal(await readText(agent.client, id, `/root/${name}`), `${name}\n`);
    const record = JSON.parse(readFileSync(join(home, 'sandboxes', id, 'sandbox.json'), 'utf8'));
    assert.equal(record.live.vm.hpet, true, `${name} runs in a VM with the HPET its snapshot has`);
    assert.match(record.live.vm.machine, /^pc-i440fx-\d+\.\d+$/, 'and with its versioned machine type');
  }
  // The default shape's pooled QEMUs, launched by the new agent at its start, have none.
  const pooled = qemuCommandLines().filter(
    (line) => line.includes(join(home, 'pool')) && line.includes('512M'),
  );
  assert.ok(pooled.length > 0, 'the new agent keeps pooled QEMUs of the default shape');
  for (const line of pooled) assert.match(line, /-M pc-i440fx-\d+\.\d+,memory-backend=mem,hpet=off /);
  // Its VM ran on, waiting for the next agent: what it wrote after its last snapshot is still there.
  assert.equal(await readText(agent.client, failing, '/root/kept'), 'kept\n');
  assert.equal(await readText(agent.client, failing, '/root/lost'), 'lost\n');
});
