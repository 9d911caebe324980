// A sandbox's QEMU dies under it (killed from outside, or by the kernel's OOM killer at its cgroup's memory
// cap), on real VMs: the sandbox goes to `error` with the reason, and its last committed snapshot resumes.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SandboxState } from '@amber/proto/hostagent';
import { execText, readText, startTestAgent, type TestAgent, writeText } from './test-support/test-agent.js';

let t: TestAgent;
before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 4096, bootTimeoutMs: 300_000 });
});
after(async () => {
  await t?.stop();
});

async function waitForError(id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { sandbox } = await t.client.getSandbox({ sandboxId: id });
    if (sandbox?.state === SandboxState.ERROR) return sandbox.error;
    if (Date.now() > deadline) throw new Error(`sandbox ${id} is still ${sandbox?.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('QEMU killed: the sandbox is in error with the reason, and resumes at its last snapshot', async () => {
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } });
  assert.ok(sandbox);
  const id = sandbox.id;
  await writeText(t.client, id, '/root/kept', 'kept\n');
  await t.client.pauseSandbox({ sandboxId: id });
  await t.client.resumeSandbox({ sandboxId: id });
  await writeText(t.client, id, '/root/after', 'after the snapshot\n');
  const runtime = t.agent.manager.get(id).runtime;
  assert.ok(runtime?.vm.pid);
  const cgroupDirs = runtime.cgroup?.dirs ?? [];

  process.kill(runtime.vm.pid, 'SIGKILL');
  const error = await waitForError(id);
  assert.match(error, /QEMU exited unexpectedly \(code null, signal SIGKILL\)/);
  assert.match(error, /its last snapshot can be resumed/);
  for (const dir of cgroupDirs) assert.equal(existsSync(dir), false, `cgroup ${dir} removed`);

  const resumed = await t.client.resumeSandbox({ sandboxId: id });
  assert.equal(resumed.sandbox?.state, SandboxState.RUNNING);
  assert.equal(resumed.sandbox?.error, '', 'the error is cleared once it runs again');
  assert.equal(await readText(t.client, id, '/root/kept'), 'kept\n');
  const lost = await execText(t.client, id, 'ls', ['/root/after']);
  assert.notEqual(lost.exitCode, 0, 'what was written after the snapshot is not there');
  await t.client.destroySandbox({ sandboxId: id });
});

test('QEMU killed by the OOM killer at its memory cap: the reason says so', async (ctx) => {
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } });
  assert.ok(sandbox);
  const id = sandbox.id;
  const cgroup = t.agent.manager.get(id).runtime?.cgroup;
  if (cgroup?.mode !== 'v1') {
    ctx.skip('needs a cgroup v1 memory controller (this test lowers memory.limit_in_bytes)');
    return;
  }
  // Lower the cap to what QEMU uses now plus a little; the guest then fills 160 MiB of its own RAM, which
  // is shared memory on the host that cannot be reclaimed: the kernel must kill QEMU.
  const usage = Number(readFileSync(join(cgroup.memoryDir, 'memory.usage_in_bytes'), 'utf8'));
  writeFileSync(join(cgroup.memoryDir, 'memory.limit_in_bytes'), String(usage + 32 * 1024 * 1024));
  await execText(t.client, id, 'sh', ['-c', 'head -c 160M /dev/zero | tr "\\0" x > /dev/shm/fill']).catch(
    () => undefined, // the VM dies under the exec
  );
  const error = await waitForError(id);
  assert.match(error, /killed by the kernel's OOM killer at its memory cap of \d+ MiB/);
  await t.client.destroySandbox({ sandboxId: id });
});
