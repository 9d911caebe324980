import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SandboxState } from '@amber/proto/hostagent';
import { Code, ConnectError } from '@connectrpc/connect';
import { footprint, leftovers } from './test-support/leftovers.js';
import { execText, startTestAgent, type TestAgent } from './test-support/test-agent.js';

let t: TestAgent;
before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 4096 });
});
after(async () => {
  await t?.stop();
});

async function* chunked(data: Buffer, size: number) {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

function rejectsWith(code: Code, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.rawMessage, pattern);
    assert.doesNotMatch(err.rawMessage, /\n\s+at /, 'no stack trace in errors');
    return true;
  };
}

describe('a sandbox, end to end on a real VM', () => {
  test('create, exec, files, destroy leaves nothing behind', async () => {
    const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 256 } });
    assert.ok(sandbox);
    assert.equal(sandbox.state, SandboxState.RUNNING);
    const held = footprint(t.agent, sandbox.id);
    assert.ok(
      held.qemuPid && held.netns && held.runDir,
      'a running sandbox has a QEMU, a namespace and a run dir',
    );
    assert.deepEqual(leftovers(held).length, 5, 'the check sees the running sandbox');

    const version = await execText(t.client, sandbox.id, 'cat', ['/proc/version']);
    assert.match(
      version.stdout,
      new RegExp(`Linux version ${t.agent.manager.image.manifest.kernelRelease.replace(/\./g, '\\.')}`),
    );
    assert.equal(version.exitCode, 0);

    const mixed = await execText(t.client, sandbox.id, 'sh', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual(mixed, { stdout: 'out\n', stderr: 'err\n', exitCode: 3, signal: '' });

    const data = randomBytes(10 * 1024 * 1024);
    const written = await t.client.writeFile(
      (async function* () {
        yield { part: { case: 'header' as const, value: { sandboxId: sandbox.id, path: '/root/blob.bin' } } };
        for await (const chunk of chunked(data, 128 * 1024))
          yield { part: { case: 'data' as const, value: chunk } };
      })(),
    );
    assert.equal(written.bytesWritten, BigInt(data.length));
    const hash = createHash('sha256');
    for await (const res of t.client.readFile({ sandboxId: sandbox.id, path: '/root/blob.bin' }))
      hash.update(res.data);
    assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'));
    const inGuest = await execText(t.client, sandbox.id, 'sha256sum', ['/root/blob.bin']);
    assert.equal(inGuest.stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'));

    await t.client.destroySandbox({ sandboxId: sandbox.id });
    assert.deepEqual(leftovers(held), []);
    await assert.rejects(t.client.getSandbox({ sandboxId: sandbox.id }), rejectsWith(Code.NotFound));
    await assert.rejects(execText(t.client, sandbox.id, 'true'), rejectsWith(Code.NotFound));
  });

  test('bad input gets a clear error with a code', async () => {
    const budget = t.agent.config.memoryBudgetMib;
    await assert.rejects(
      t.client.getSandbox({ sandboxId: 'nosuchsandbox0000000' }),
      rejectsWith(Code.NotFound, /not found/),
    );
    await assert.rejects(t.client.destroySandbox({ sandboxId: '../../etc' }), rejectsWith(Code.NotFound));
    await assert.rejects(
      t.client.createSandbox({ spec: { memoryMib: 0 } }),
      rejectsWith(Code.InvalidArgument, /memory_mib must be between 128 and/),
    );
    await assert.rejects(
      t.client.createSandbox({ spec: { memoryMib: budget + 1 } }),
      rejectsWith(Code.InvalidArgument, new RegExp(`memory_mib must be between 128 and ${budget} MiB`)),
    );
    await assert.rejects(
      t.client.createSandbox({ spec: { vcpus: 0 } }),
      rejectsWith(Code.InvalidArgument, /vcpus must be between 1 and/),
    );
    await assert.rejects(
      t.client.createSandbox({ spec: { ttlSeconds: 0 } }),
      rejectsWith(Code.InvalidArgument, /ttl_seconds/),
    );
    assert.equal(t.agent.manager.list().length, 0, 'rejected creates leave no sandbox');
  });
});

describe('several sandboxes', () => {
  test('5 created in parallel all answer; a VM killed from outside is reported and cleaned up; the rest keep serving', async () => {
    const created = await Promise.all(
      Array.from({ length: 5 }, () => t.client.createSandbox({ spec: { memoryMib: 256 } })),
    );
    const ids = created.map((c) => c.sandbox?.id ?? '');
    assert.equal(new Set(ids).size, 5);
    const answers = await Promise.all(
      ids.map((id) => execText(t.client, id, 'sh', ['-c', 'echo $((6 * 7))'])),
    );
    for (const a of answers) assert.equal(a.stdout, '42\n');

    const [victim, ...survivors] = ids as [string, ...string[]];
    const held = new Map(ids.map((id) => [id, footprint(t.agent, id)]));
    const victimHeld = held.get(victim);
    const victimPid = victimHeld?.qemuPid;
    assert.ok(victimHeld && victimPid);
    process.kill(victimPid, 'SIGKILL');
    // What stays of a failed sandbox until it is destroyed: its record and the VM's logs (run/).
    const victimPaths = t.agent.manager.paths(victim);
    const expected = [victimPaths.run, victimPaths.dir];
    let state = SandboxState.RUNNING;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
      state = (await t.client.getSandbox({ sandboxId: victim })).sandbox?.state ?? state;
      if (state === SandboxState.ERROR && leftovers(victimHeld).join() === expected.join()) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, SandboxState.ERROR);
    const victimRecord = (await t.client.getSandbox({ sandboxId: victim })).sandbox;
    assert.match(victimRecord?.error ?? '', /QEMU exited unexpectedly/);
    assert.deepEqual(leftovers(victimHeld), expected, 'its QEMU, namespace and RAM file are gone');
    await assert.rejects(execText(t.client, victim, 'true'), rejectsWith(Code.FailedPrecondition, /error/));

    const still = await Promise.all(survivors.map((id) => execText(t.client, id, 'echo', ['alive'])));
    for (const a of still) assert.equal(a.stdout, 'alive\n');

    await Promise.all(ids.map((id) => t.client.destroySandbox({ sandboxId: id })));
    for (const footprint of held.values()) assert.deepEqual(leftovers(footprint), [], footprint.id);
    assert.equal(t.agent.manager.budget.committedMib, 0);
  });
});
