// A full disk under $AMBER_HOME (a small tmpfs mounted for the test) during a pause and during MergeDiffs,
// on a real VM: the pause fails with a clear error and the sandbox keeps running, the last good snapshot
// stays intact, a merge that cannot finish leaves the unmerged chain, and once space is freed pauses work.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SandboxState } from '@amber/proto/hostagent';
import { Code, ConnectError } from '@connectrpc/connect';
import { readCommitted } from './snapshot/layout.js';
import { execText, startTestAgent, type TestAgent } from './test-support/test-agent.js';

const MIB = 1024 * 1024;
const home = mkdtempSync(join(tmpdir(), 'amber-disk-full-'));
const filler = join(home, 'filler');
let t: TestAgent;

before(async () => {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1200m', 'tmpfs', home]);
  t = await startTestAgent({ home, memoryBudgetMib: 4096, generationCap: 3, bootTimeoutMs: 300_000 });
});
after(async () => {
  await t?.stop();
  execFileSync('umount', ['-l', home]);
  rmSync(home, { recursive: true, force: true });
});

/** Fills the file system until `leaveMib` MiB are free. */
async function fillDisk(leaveMib: number): Promise<void> {
  const fs = await statfs(home);
  const free = fs.bavail * fs.bsize;
  await writeFile(filler, Buffer.alloc(Math.max(0, free - leaveMib * MIB), 1));
}

async function sha(id: string, path: string): Promise<string> {
  const res = await execText(t.client, id, 'sha256sum', [path]);
  assert.equal(res.exitCode, 0, res.stderr);
  return res.stdout.split(' ')[0] ?? '';
}

test('disk full during a pause, then during a merge', async () => {
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3600 } });
  assert.ok(sandbox);
  const id = sandbox.id;
  const snapshotDir = t.agent.manager.paths(id).snapshot;
  await t.client.pauseSandbox({ sandboxId: id }); // generation 0: the last good snapshot
  await t.client.resumeSandbox({ sandboxId: id });
  const good = await readCommitted(snapshotDir);
  assert.ok(good);

  // 48 MiB of guest RAM written (a tmpfs in the guest: memory, not the guest's disk), then the host disk full.
  await execText(t.client, id, 'sh', ['-c', 'head -c 48M /dev/urandom > /dev/shm/data']);
  const dataSha = await sha(id, '/dev/shm/data');
  await fillDisk(24);
  const usedBefore = (await statfs(home)).bfree;
  await assert.rejects(t.client.pauseSandbox({ sandboxId: id }), (err: unknown) => {
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.ResourceExhausted, err.message);
    assert.match(err.rawMessage, /pause failed, the sandbox keeps running.*no space left on the device/);
    return true;
  });
  const { sandbox: after } = await t.client.getSandbox({ sandboxId: id });
  assert.equal(after?.state, SandboxState.RUNNING, 'the sandbox keeps running');
  assert.equal((await execText(t.client, id, 'echo', ['alive'])).stdout, 'alive\n');
  const still = await readCommitted(snapshotDir);
  assert.equal(
    still?.header.buildId,
    good.header.buildId,
    'the last good snapshot is still the committed one',
  );
  const usedAfter = (await statfs(home)).bfree;
  assert.ok(usedAfter >= usedBefore - 256, 'the failed attempt left nothing behind');

  // Space freed: the next pause works and keeps every byte.
  await writeFile(filler, '');
  await t.client.pauseSandbox({ sandboxId: id }); // generation 1
  await t.client.resumeSandbox({ sandboxId: id });
  assert.equal(await sha(id, '/dev/shm/data'), dataSha);

  // Generation 2 reaches the cap of 3: its small diff fits, the merge into one generation does not.
  await execText(t.client, id, 'sh', ['-c', 'head -c 4M /dev/urandom > /dev/shm/small']);
  const smallSha = await sha(id, '/dev/shm/small');
  await fillDisk(48);
  await t.client.pauseSandbox({ sandboxId: id });
  const unmerged = await readCommitted(snapshotDir);
  assert.equal(unmerged?.header.generation, 2, 'the merge failed; the unmerged chain is the snapshot');
  await writeFile(filler, '');
  await t.client.resumeSandbox({ sandboxId: id });
  assert.equal(await sha(id, '/dev/shm/data'), dataSha);
  assert.equal(await sha(id, '/dev/shm/small'), smallSha);
  // With space again, the next pause merges.
  await t.client.pauseSandbox({ sandboxId: id });
  const merged = await readCommitted(snapshotDir);
  assert.equal(merged?.header.generation, 0, 'merged into one generation');
  await t.client.resumeSandbox({ sandboxId: id });
  assert.equal(await sha(id, '/dev/shm/data'), dataSha);
  await t.client.destroySandbox({ sandboxId: id });
});
