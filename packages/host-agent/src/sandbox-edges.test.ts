// The agent's edges on real VMs: the memory budget, time to live, calls in the wrong state and at the same
// time, and templates deleted or renamed while in use. One agent, 256 MiB sandboxes, a budget that holds two
// of them with their QEMU's overhead (PER each), not three, nor one and a 512 MiB one.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { SandboxState } from '@amber/proto/hostagent';
import { Code, ConnectError } from '@connectrpc/connect';
import { loadConfig } from './config.js';
import { qemuOverheadMib } from './qemu-overhead.js';
import { footprint, leftovers } from './test-support/leftovers.js';
import { execText, readText, startTestAgent, type TestAgent, writeText } from './test-support/test-agent.js';

const PER = 256 + qemuOverheadMib(loadConfig());
const BUDGET = 2 * PER + 100;
let t: TestAgent;
before(async () => {
  t = await startTestAgent({ memoryBudgetMib: BUDGET, vmPoolShapes: 0 });
});
after(async () => {
  await t?.stop();
});
// A failed test must not hold the budget for the next one.
afterEach(async () => {
  for (const s of t.agent.manager.list()) await t.agent.manager.destroy(s.id).catch(() => undefined);
  for (const s of await t.agent.manager.snapshots.templates.list())
    await t.agent.manager.snapshots.deleteTemplate(s.name).catch(() => undefined);
});

function rejectsWith(code: Code, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
    assert.equal(err.code, code, `${Code[err.code]}: ${err.rawMessage}`);
    assert.match(err.rawMessage, pattern);
    return true;
  };
}

/** A 256 MiB sandbox, or one from a template (whose size it takes). */
async function create(spec: { ttlSeconds?: number; template?: string } = {}) {
  const { sandbox } = await t.client.createSandbox({
    spec: { ...(spec.template ? {} : { memoryMib: 256 }), ...spec },
  });
  assert.ok(sandbox);
  return sandbox.id;
}

const committed = () => t.agent.manager.budget.committedMib;
const ids = () =>
  t.agent.manager
    .list()
    .map((s) => s.id)
    .sort();
const state = async (id: string) => (await t.client.getSandbox({ sandboxId: id })).sandbox?.state;
const exhausted = rejectsWith(
  Code.ResourceExhausted,
  new RegExp(
    `not enough memory: \\d+ MiB requested \\(guest memory and QEMU's overhead\\), \\d+ MiB of ${BUDGET} MiB free`,
  ),
);

describe('the memory budget', () => {
  test('create, resume and fork beyond it are refused whole; it is right after pause, resume, fork, destroy', async () => {
    const a = await create();
    assert.equal(committed(), PER);
    await assert.rejects(t.client.createSandbox({ spec: { memoryMib: 512 } }), exhausted);
    assert.deepEqual(ids(), [a], 'the refused create left no sandbox');
    assert.equal(committed(), PER);

    // Two forks need 2 * PER of the PER + 100 left: neither may remain.
    await assert.rejects(t.client.forkSandbox({ sandboxId: a, count: 2 }), exhausted);
    assert.deepEqual(ids(), [a], 'the refused fork left no half of itself');
    assert.equal(committed(), PER);
    const [fork] = (await t.client.forkSandbox({ sandboxId: a, count: 1 })).sandboxes;
    assert.ok(fork);
    assert.equal(committed(), 2 * PER);

    await t.client.pauseSandbox({ sandboxId: a });
    assert.equal(committed(), PER, 'a paused sandbox holds no memory');
    const b = await create();
    assert.equal(committed(), 2 * PER);
    await t.client.pauseSandbox({ sandboxId: fork.id });
    const c = await create();
    assert.equal(committed(), 2 * PER);
    // a is paused and needs PER of the 100 left: refused, and still paused and whole.
    await assert.rejects(t.client.resumeSandbox({ sandboxId: a }), exhausted);
    assert.equal(await state(a), SandboxState.PAUSED);
    assert.equal(committed(), 2 * PER);
    await t.client.destroySandbox({ sandboxId: b });
    assert.equal(committed(), PER);
    await t.client.resumeSandbox({ sandboxId: a });
    assert.equal(committed(), 2 * PER);
    assert.equal((await execText(t.client, a, 'echo', ['back'])).stdout, 'back\n');
    for (const id of [a, c, fork.id]) await t.client.destroySandbox({ sandboxId: id });
    assert.equal(committed(), 0);
    assert.deepEqual(ids(), []);
  });
});

describe('time to live', () => {
  test('a running sandbox expires and is destroyed; a paused one does not; ping extends', async () => {
    const { sandbox: first } = await t.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 3 } });
    const ready = Date.now();
    assert.ok(first);
    // Its time counts from ready, not from the request: a boot here takes longer than the whole TTL.
    assert.ok(
      Number(first.expiresAtMs) > ready + 2000,
      `expires ${Number(first.expiresAtMs) - ready} ms after the create returned`,
    );
    const expiring = first.id;
    const held = footprint(t.agent, expiring);
    // Long enough to pause or ping them before they expire on a slow machine; waited out below.
    const paused = await create({ ttlSeconds: 8 });
    await t.client.pauseSandbox({ sandboxId: paused });
    const pinged = await create({ ttlSeconds: 8 });
    const pastTheirTtl = Date.now() + 8000 + 1000;
    const { sandbox } = await t.client.ping({ sandboxId: pinged, ttlSeconds: 3600 });
    assert.ok(sandbox && Number(sandbox.expiresAtMs) > Date.now() + 3000 * 1000, 'ping moved its expiry');

    // Waits for the event (the reaper destroys it), bounded by the runner's per-test timeout.
    while (t.agent.manager.list().some((s) => s.id === expiring))
      await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(
      t.client.getSandbox({ sandboxId: expiring }),
      rejectsWith(Code.NotFound, /not found/),
    );
    assert.deepEqual(leftovers(held), [], 'expiry destroys everything');
    await new Promise((r) => setTimeout(r, Math.max(0, pastTheirTtl - Date.now())));
    assert.equal(await state(paused), SandboxState.PAUSED, 'a paused sandbox does not expire');
    assert.equal(await state(pinged), SandboxState.RUNNING, 'a pinged sandbox lives on');
    for (const id of [paused, pinged]) await t.client.destroySandbox({ sandboxId: id });
  });
});

describe('wrong state and races', () => {
  test('pause a paused, resume a running, exec or read on a paused sandbox: failed_precondition', async () => {
    const id = await create();
    const notPaused = rejectsWith(Code.FailedPrecondition, /is running, not paused/);
    await assert.rejects(t.client.resumeSandbox({ sandboxId: id }), notPaused);
    await t.client.pauseSandbox({ sandboxId: id });
    const notRunning = rejectsWith(Code.FailedPrecondition, /is paused, not running/);
    await assert.rejects(t.client.pauseSandbox({ sandboxId: id }), notRunning);
    await assert.rejects(execText(t.client, id, 'true'), notRunning);
    await assert.rejects(readText(t.client, id, '/etc/hostname'), notRunning);
    await assert.rejects(writeText(t.client, id, '/root/x', 'x'), notRunning);

    // Two resumes at once: one wins, the other is refused; one VM runs.
    const results = await Promise.allSettled([
      t.client.resumeSandbox({ sandboxId: id }),
      t.client.resumeSandbox({ sandboxId: id }),
    ]);
    const shown = JSON.stringify(results, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, shown);
    const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    rejectsWith(Code.FailedPrecondition, /is running, not paused/)(lost?.reason);
    assert.equal((await execText(t.client, id, 'echo', ['one'])).stdout, 'one\n');

    // Pause and destroy at once: whichever runs first, the sandbox is gone with everything it had.
    const held = footprint(t.agent, id);
    const raced = await Promise.allSettled([
      t.client.pauseSandbox({ sandboxId: id }),
      t.client.destroySandbox({ sandboxId: id }),
    ]);
    assert.equal(raced[1]?.status, 'fulfilled', 'the destroy succeeds');
    if (raced[0]?.status === 'rejected')
      rejectsWith(Code.FailedPrecondition, /is stopping, not running/)(raced[0].reason);
    await assert.rejects(t.client.getSandbox({ sandboxId: id }), rejectsWith(Code.NotFound, /not found/));
    assert.deepEqual(leftovers(held), []);
    assert.equal(committed(), 0);
  });
});

describe('templates', () => {
  test('spawn from a deleted template fails; its name is free at once; its files go with its last user', async () => {
    const source = await create();
    await writeText(t.client, source, '/root/which', 'first\n');
    await t.client.createSnapshot({ sandboxId: source, name: 'edge' });
    const user = await create({ template: 'edge' });
    const dir = join(t.home, 'templates', 'edge');
    const memfiles = readdirSync(dir).filter((n) => /^memfile\.[0-9a-f-]{36}$/.test(n));
    assert.ok(memfiles.length > 0);
    const inodes = memfiles.map((n) => statSync(join(dir, n)).ino);

    await t.client.deleteSnapshot({ name: 'edge' });
    assert.equal(existsSync(dir), false, 'the name is freed at once');
    await assert.rejects(
      t.client.createSandbox({ spec: { template: 'edge' } }),
      rejectsWith(Code.NotFound, /template edge not found/),
    );
    // Reused right away, for different content (from the source paused now: the budget holds two).
    await writeText(t.client, source, '/root/which', 'second\n');
    await t.client.pauseSandbox({ sandboxId: source });
    await t.client.createSnapshot({ sandboxId: source, name: 'edge' });
    const second = await create({ template: 'edge' });
    assert.equal(await readText(t.client, second, '/root/which'), 'second\n');
    assert.equal(await readText(t.client, user, '/root/which'), 'first\n', 'the old user keeps its state');

    // The deleted template's memory files live on in the sandboxes that share them (its user, and its
    // source, of whose snapshot it was a hard-linked clone), and nowhere else: every link is one of theirs,
    // so destroying them frees the files.
    const where = (ino: number) =>
      readdirSync(join(t.home, 'sandboxes'), { recursive: true, encoding: 'utf8' }).filter(
        (p) => statSync(join(t.home, 'sandboxes', p), { throwIfNoEntry: false })?.ino === ino,
      );
    for (const ino of inodes) {
      const paths = where(ino);
      assert.ok(
        paths.some((p) => p.startsWith(`${user}/`)),
        `its user holds inode ${ino}: ${paths.join(', ')}`,
      );
      assert.ok(
        paths.every((p) => p.startsWith(`${user}/`) || p.startsWith(`${source}/`)),
        paths.join(', '),
      );
      const nlink = statSync(join(t.home, 'sandboxes', paths[0] ?? '')).nlink;
      assert.equal(nlink, paths.length, `no link to inode ${ino} outside those sandboxes`);
    }
    for (const id of [user, source, second]) {
      await t.client.destroySandbox({ sandboxId: id });
      assert.equal(existsSync(join(t.home, 'sandboxes', id)), false, `${id}: its links are gone`);
    }
    await t.client.deleteSnapshot({ name: 'edge' });
    assert.deepEqual(readdirSync(join(t.home, 'templates')), []);
  });
});
