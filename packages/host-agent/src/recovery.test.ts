// Recovery's sweep on a real host, without VMs (agent-crash.test.ts kills agents that run real ones).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { destroyNetworkSlot, listNetworkSlots, namespacePrefix } from './network/network-slot.js';
import { recoverSandboxes } from './recovery.js';

test('a namespace a killed agent’s slot script adds after the restart is swept too', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'amber-recovery-test-'));
  const shmDir = await mkdtemp(join(tmpdir(), 'amber-recovery-shm-'));
  const prefix = namespacePrefix(home);
  const late = `${prefix}0123456789ab`;
  t.after(async () => {
    await destroyNetworkSlot(late);
    await rm(home, { recursive: true, force: true });
    await rm(shmDir, { recursive: true, force: true });
  });
  // As createNetworkSlot's script, orphaned by its agent's SIGKILL, still on its way.
  const orphan = spawn('sh', ['-ec', `sleep 0.5\nip netns add ${late}`], { stdio: 'ignore' });
  const orphanDone = new Promise((r) => orphan.once('exit', r));
  await new Promise((r) => setTimeout(r, 50));

  await recoverSandboxes(loadConfig({ home, shmDir }), pino({ level: 'silent' }));
  await orphanDone;
  assert.deepEqual(await listNetworkSlots(prefix), [], 'nothing under the agent’s prefix is left');
});
