// The cleanup checks themselves: each must report a resource that is left behind, or "destroy leaves
// nothing" proves nothing. No VM: the resources are made by hand (or taken from the agent and not returned).
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { namespacePrefix } from '../network/network-slot.js';
import { sandboxPaths } from '../sandbox.js';
import { agentLeftovers, leftovers, processesNaming, type SandboxFootprint } from './leftovers.js';
import { startTestAgent } from './test-agent.js';

test('leftovers() reports each resource of a sandbox that is still there, and nothing once all are gone', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'amber-leftovers-test-'));
  const id = `leak${randomBytes(8).toString('hex')}`;
  const paths = sandboxPaths(home, '/dev/shm', id);
  const runDir = join(home, 'pool', randomBytes(6).toString('hex'));
  // Named the way the slot pool names them: `amber-<hash of home>-<hex>`.
  const netns = `${namespacePrefix(home)}${randomBytes(6).toString('hex')}`;
  let stray: ChildProcess | undefined;
  t.after(async () => {
    stray?.kill('SIGKILL');
    if (existsSync(`/run/netns/${netns}`)) execFileSync('ip', ['netns', 'del', netns]);
    await rm(paths.memory, { force: true });
    await rm(home, { recursive: true, force: true });
  });

  await mkdir(paths.dir, { recursive: true });
  await mkdir(runDir, { recursive: true });
  await writeFile(paths.memory, 'guest ram');
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'tuntap', 'add', 'tap0', 'mode', 'tap']);
  // Stands in for a QEMU that outlived its sandbox: a process whose command line names the run dir.
  stray = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(runDir, 'qmp.sock')], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => stray?.once('exit', resolve));
  const held: SandboxFootprint = { id, memoryFile: paths.memory, dir: paths.dir, runDir, netns };
  assert.ok(stray.pid);
  while (!processesNaming(runDir).includes(stray.pid)) await new Promise((r) => setTimeout(r, 10));
  const withPid = { ...held, qemuPid: stray.pid };

  const all = leftovers(withPid);
  assert.ok(all.includes(`qemu pid ${stray.pid}`), all.join('\n'));
  assert.ok(all.includes(`netns ${netns} (taps: tap0)`), all.join('\n'));
  assert.ok(all.includes(paths.memory) && all.includes(paths.dir) && all.includes(runDir), all.join('\n'));
  assert.equal(all.length, 5, all.join('\n'));
  // Without the recorded pid, the process is still found by what its command line names.
  assert.ok(leftovers(held).some((entry) => entry.startsWith(`process ${stray?.pid} naming ${runDir}`)));

  stray.kill('SIGKILL');
  await exited;
  assert.equal(leftovers(withPid).length, 4, 'a dead process is not a leftover');
  execFileSync('ip', ['netns', 'del', netns]);
  assert.deepEqual(leftovers(withPid), [paths.memory, runDir, paths.dir]);
  await rm(paths.memory);
  await rm(home, { recursive: true });
  assert.deepEqual(leftovers(withPid), []);
});

test("a stopped agent's leaked namespace fails stop(), which still removes it", async () => {
  const agent = await startTestAgent({ vmPoolShapes: 0 });
  const prefix = namespacePrefix(agent.home);
  // A network slot taken and never given back, as a runtime that forgot to destroy it would.
  const leaked = await agent.agent.manager.slots.take();
  assert.ok(leaked.netns.startsWith(prefix));
  assert.ok(
    agentLeftovers(agent.home, agent.agent.config.shmDir).includes(`netns ${leaked.netns} (taps: tap0)`),
  );
  await assert.rejects(
    agent.stop(),
    new RegExp(`the agent left behind: netns ${leaked.netns} \\(taps: tap0\\)`),
  );
  assert.equal(existsSync(`/run/netns/${leaked.netns}`), false, 'stop() removed what it reported');
  assert.deepEqual(agentLeftovers(agent.home, '/dev/shm'), []);
});
