// Pause, resume, templates and forks of real sandboxes (QEMU on TCG, the real pager and memsnap).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SnapshotDir } from '@amber/memsnap';
import { PrefetchPolicy, SandboxState } from '@amber/proto/hostagent';
import { Code, ConnectError } from '@connectrpc/connect';
import { qemuPidsUnder } from './recovery.js';
import { keeperCounter, startKeeper, verifyKeeper, zeroKeeperPages } from './test-support/keeper.js';
import { execText, readText, startTestAgent, type TestAgent, writeText } from './test-support/test-agent.js';

let t: TestAgent;
before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 4096, generationCap: 10 });
});
after(async () => {
  await t?.stop();
});

const MIB = 1 << 20;

/** Whether the sandbox's VM was launched ahead, by the pool (vm-pool.ts). */
function fromPool(id: string): boolean {
  return t.agent.manager.get(id).runtime?.vm.spec.runDir.startsWith(join(t.home, 'pool')) ?? false;
}

async function newSandbox(memoryMib: number): Promise<string> {
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib } });
  assert.ok(sandbox);
  return sandbox.id;
}

async function pause(id: string) {
  const res = await t.client.pauseSandbox({ sandboxId: id });
  assert.equal(res.sandbox?.state, SandboxState.PAUSED);
  return Number(res.generationBytes);
}

async function resume(id: string, prefetch = PrefetchPolicy.UNSPECIFIED) {
  const res = await t.client.resumeSandbox({ sandboxId: id, prefetch });
  assert.equal(res.sandbox?.state, SandboxState.RUNNING);
}

describe('pause and resume', () => {
  test('12 cycles (every prefetch policy) keep a counting process, its 64 MiB and every file; the chain is merged on the way', async () => {
    const id = await newSandbox(512);
    await startKeeper(t.client, id, 64);
    let last = 0;
    let merged = false;
    let pooled = 0;
    for (let cycle = 1; cycle <= 12; cycle++) {
      await writeText(t.client, id, `/root/cycle-${cycle}.txt`, `cycle ${cycle}\n`.repeat(1000));
      await pause(id);
      const generations = t.agent.manager.get(id).generations ?? 0;
      if (cycle > 1 && generations === 1) merged = true;
      // Every prefetch policy serves the same memory; only the timing differs.
      await resume(id, [PrefetchPolicy.NONE, PrefetchPolicy.ALL, PrefetchPolicy.WORKING_SET][cycle % 3]);
      if (fromPool(id)) pooled++;
      const { counter, result } = await verifyKeeper(t.client, id);
      assert.equal(result, 'ok', `cycle ${cycle}: the keeper's memory`);
      assert.ok(counter > last, `cycle ${cycle}: counter ${counter} moved on from ${last}`);
      last = counter;
    }
    assert.ok(merged, 'the generation cap merged the chain at least once');
    // A resume waits for a pooled QEMU that is still launching, so each one uses the pool: none is left to
    // luck. (The default shape, 1 vCPU and 512 MiB, is prepared when the agent starts.)
    assert.equal(pooled, 12, `every resume used a QEMU launched ahead (${pooled} of 12)`);
    for (let cycle = 1; cycle <= 12; cycle++) {
      assert.equal(await readText(t.client, id, `/root/cycle-${cycle}.txt`), `cycle ${cycle}\n`.repeat(1000));
    }
    await t.client.destroySandbox({ sandboxId: id });
  });

  test('a re-pause writes what changed; zeroed pages stay zero; processes and the clock survive', async (ctx) => {
    const id = await newSandbox(512);
    await startKeeper(t.client, id, 16);
    const envd = () => {
      const runtime = t.agent.manager.get(id).runtime;
      assert.ok(runtime);
      return runtime.envd;
    };
    // The stream is dropped once the process has started (its first event, the pid), not on a timer.
    const stopWatching = new AbortController();
    const sleeper = envd().exec({ cmd: 'sleep', args: ['3600'], envs: {}, signal: stopWatching.signal });
    const first = await sleeper.next();
    const sleeperPid = first.value && 'pid' in first.value ? first.value.pid : undefined;
    assert.ok(sleeperPid, 'sleep started');
    stopWatching.abort();
    await sleeper.return(undefined);

    const base = await pause(id);
    await resume(id);
    assert.equal(
      t.agent.manager.get(id).runtime?.envdConnection,
      'resumed',
      'envd answered on the kept connection',
    );
    const idle = await pause(id);
    await resume(id);
    const written = await execText(t.client, id, 'sh', [
      '-c',
      'head -c 8388608 /dev/urandom > /dev/shm/eight',
    ]);
    assert.equal(written.exitCode, 0);
    const eight = await pause(id);
    ctx.diagnostic(`generation bytes: base ${base}, idle re-pause ${idle}, after writing 8 MiB ${eight}`);
    assert.ok(eight >= 8 * MIB, `the 8 MiB are in the generation (${eight})`);
    // The slack: what an idle resume/pause writes anyway (guest kernel, envd, the keeper) plus one exec.
    assert.ok(eight - idle <= 8 * MIB + 6 * MIB, `only what changed (${eight}, idle ${idle})`);
    assert.ok(base > 4 * eight, `generation 0 holds the whole populated memory (${base})`);

    await resume(id);
    await zeroKeeperPages(t.client, id);
    await pause(id);
    // A pooled QEMU that died while waiting is not used: the resume launches its own.
    for (const pid of await qemuPidsUnder(join(t.home, 'pool'))) process.kill(pid, 'SIGKILL');
    // A damaged saved connection only costs speed: a new connection does the job.
    const snapshotDir = t.agent.manager.paths(id).snapshot;
    const saved = readdirSync(snapshotDir).filter((name) => name.startsWith('envd-connection.'));
    assert.equal(saved.length, 1, `one saved connection, the committed generation's (${saved.join(', ')})`);
    const savedPath = join(snapshotDir, saved[0] ?? '');
    assert.equal(JSON.parse(readFileSync(savedPath, 'utf8')).protocol, 'control', 'envd’s control channel');
    writeFileSync(savedPath, '{"local":');

    await new Promise((r) => setTimeout(r, 10_000));
    await resume(id);
    assert.equal(t.agent.manager.get(id).runtime?.envdConnection, 'new');
    assert.equal(fromPool(id), false, 'the dead pooled QEMU was not used');
    const { result } = await verifyKeeper(t.client, id);
    assert.equal(result, 'ok', 'zeroed pages read zero, the rest the pattern');

    const before = Date.now();
    const clock = await execText(t.client, id, 'date', ['+%s.%N']);
    const hostMid = (before + Date.now()) / 2 / 1000;
    const skew = Math.abs(Number(clock.stdout) - hostMid);
    ctx.diagnostic(`guest clock skew after a 10 s pause: ${skew.toFixed(3)} s`);
    assert.ok(skew < 1, `guest clock within 1 s of the host (${skew.toFixed(3)} s)`);

    const listed = await envd().process.list({});
    assert.ok(
      listed.processes.some((p) => p.pid === sleeperPid),
      `sleep ${sleeperPid} is listed after the resume`,
    );
    await t.client.destroySandbox({ sandboxId: id });
  });
});

describe('a pause that fails', () => {
  test('leaves the sandbox running and its last snapshot whole; the next pause loses no page', async () => {
    const id = await newSandbox(256);
    await startKeeper(t.client, id, 8);
    await writeText(t.client, id, '/root/a', 'a\n');
    await pause(id);
    await resume(id);
    await writeText(t.client, id, '/root/b', 'b\n');
    const paths = t.agent.manager.paths(id);
    const committed = readFileSync(join(paths.snapshot, 'memfile.header'));
    // The capture cannot read guest RAM: it fails after device state and disk layer were written.
    renameSync(paths.memory, `${paths.memory}.away`);
    await assert.rejects(
      t.client.pauseSandbox({ sandboxId: id }),
      (err: unknown) => err instanceof ConnectError && /keeps running/.test(err.rawMessage),
    );
    renameSync(`${paths.memory}.away`, paths.memory);
    assert.equal(t.agent.manager.get(id).state, 'running');
    assert.deepEqual(
      readFileSync(join(paths.snapshot, 'memfile.header')),
      committed,
      'the snapshot is untouched',
    );
    assert.deepEqual(await (await SnapshotDir.open(paths.snapshot)).garbage(), [], 'nothing partial is left');
    assert.equal(readdirSync(paths.snapshot).filter((n) => n.startsWith('devices.')).length, 1);
    assert.equal((await verifyKeeper(t.client, id)).result, 'ok', 'the VM runs on');

    await pause(id);
    await resume(id);
    assert.equal((await verifyKeeper(t.client, id)).result, 'ok');
    assert.equal(await readText(t.client, id, '/root/a'), 'a\n');
    assert.equal(await readText(t.client, id, '/root/b'), 'b\n');
    await t.client.destroySandbox({ sandboxId: id });
  });
});

describe('a VM that dies', () => {
  test('after a resume: the sandbox is in error, keeps its snapshot and resumes from it', async () => {
    const id = await newSandbox(256);
    await writeText(t.client, id, '/root/kept', 'kept\n');
    await pause(id);
    await resume(id);
    await writeText(t.client, id, '/root/gone', 'gone\n');
    const pid = t.agent.manager.get(id).qemuPid as number;
    process.kill(pid, 'SIGKILL');
    // Until the agent has seen the exit (the per-test timeout bounds it).
    while (t.agent.manager.get(id).state !== 'error') await new Promise((r) => setTimeout(r, 100));
    const { sandbox: failed } = await t.client.getSandbox({ sandboxId: id });
    assert.equal(failed?.state, SandboxState.ERROR);
    assert.match(failed?.error ?? '', /exited unexpectedly/);
    await resume(id);
    assert.equal(await readText(t.client, id, '/root/kept'), 'kept\n');
    const gone = await execText(t.client, id, 'ls', ['/root/gone']);
    assert.notEqual(gone.exitCode, 0, 'back at the snapshot, disk included');
    assert.equal((await t.client.getSandbox({ sandboxId: id })).sandbox?.error, '');
    await t.client.destroySandbox({ sandboxId: id });
  });
});

describe('templates and forks', () => {
  test('a template of a running sandbox with a server spawns independent sandboxes; the source runs on', async () => {
    const source = await newSandbox(384);
    await writeText(t.client, source, '/srv/www/index.html', 'hello from the template\n');
    const server = await execText(t.client, source, 'sh', [
      '-c',
      '/opt/amber/busybox httpd -p 8080 -h /srv/www && echo started',
    ]);
    assert.equal(server.stdout.trim(), 'started', server.stderr);
    await startKeeper(t.client, source, 8);
    // 4 MiB that cannot compress or be left sparse: the template's own disk layers must hold them.
    const blob = await execText(t.client, source, 'sh', ['-c', 'head -c 4194304 /dev/urandom > /root/blob']);
    assert.equal(blob.exitCode, 0, blob.stderr);

    const { snapshot } = await t.client.createSnapshot({ sandboxId: source, name: 'web' });
    assert.equal(snapshot?.name, 'web');
    // Its disk: the allocated bytes of its qcow2 layers, as du counts them, without the base image under them.
    const webDir = join(t.home, 'templates', 'web');
    const layers = readdirSync(webDir).filter((n) => /^disk\..+\.qcow2$/.test(n));
    assert.ok(layers.length > 0, 'the template holds its disk layers');
    const du = execFileSync('du', ['-B1', '-c', ...layers.map((n) => join(webDir, n))], { encoding: 'utf8' });
    const diskBytes = Number(snapshot?.diskBytes);
    assert.equal(diskBytes, Number(/^(\d+)\s+total$/m.exec(du)?.[1]), du);
    assert.ok(
      diskBytes >= 4 * MIB && diskBytes < 64 * MIB,
      `disk ${diskBytes} bytes: the blob, not the image`,
    );
    assert.ok(Number(snapshot?.memoryBytes) > 8 * MIB, 'memory: at least the keeper');
    const spawned = [];
    const templateSet = join(t.home, 'templates', 'web', 'working-set.bin');
    for (let i = 0; i < 3; i++) {
      if (i === 1) {
        // The first spawn records the template's working set at ready, then again once it has settled.
        const atReady = statSync(templateSet).ino;
        const deadline = Date.now() + 20_000;
        while (statSync(templateSet).ino === atReady && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 100));
        assert.notEqual(statSync(templateSet).ino, atReady, 'the recording goes on after ready');
      }
      const { sandbox: s } = await t.client.createSandbox({ spec: { template: 'web' } });
      assert.ok(s);
      assert.equal(s.memoryMib, 384);
      // Each in its own namespace, on its own copy of the connection the template's guest kept open.
      assert.equal(t.agent.manager.get(s.id).runtime?.envdConnection, 'resumed');
      spawned.push(s.id);
    }
    for (const [i, id] of spawned.entries()) {
      const page = await execText(t.client, id, '/opt/amber/busybox', [
        'wget',
        '-qO-',
        'http://127.0.0.1:8080/',
      ]);
      assert.equal(page.stdout, 'hello from the template\n', `sandbox ${i} serves`);
      await writeText(t.client, id, '/srv/www/mine.txt', `sandbox ${i}\n`);
    }
    for (const [i, id] of spawned.entries()) {
      assert.equal(
        await readText(t.client, id, '/srv/www/mine.txt'),
        `sandbox ${i}\n`,
        'files are independent',
      );
      assert.equal((await verifyKeeper(t.client, id)).result, 'ok', 'memory came from the template');
    }
    // The first spawn taught the template its working set; later spawns start with a link to it, and a
    // spawned sandbox's own recording (at its pause) replaces its link instead of writing through it.
    const setOf = (id: string) => join(t.home, 'sandboxes', id, 'snapshot', 'working-set.bin');
    const learnt = readFileSync(templateSet);
    assert.ok(learnt.length > 0, 'the template learnt a working set');
    assert.equal(statSync(setOf(spawned[1] as string)).ino, statSync(templateSet).ino);
    await pause(spawned[1] as string);
    assert.notEqual(statSync(setOf(spawned[1] as string)).ino, statSync(templateSet).ino);
    assert.ok(
      readFileSync(templateSet).equals(learnt),
      "a spawned sandbox's pause leaves the template's set",
    );
    await resume(spawned[1] as string);

    await zeroKeeperPages(t.client, spawned[0] as string);
    assert.equal(
      (await verifyKeeper(t.client, spawned[1] as string)).result,
      'ok',
      "one's writes are not another's",
    );
    const missing = await execText(t.client, source, 'ls', ['/srv/www/mine.txt']);
    assert.notEqual(missing.exitCode, 0, 'the source does not see the spawned sandboxes files');
    // The source keeps running: its counter moves on (waited for, not timed).
    const before = await keeperCounter(t.client, source);
    while ((await keeperCounter(t.client, source)) <= before) await new Promise((r) => setTimeout(r, 100));

    await assert.rejects(
      t.client.createSandbox({ spec: { template: 'web', memoryMib: 512 } }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
    );
    await assert.rejects(
      t.client.createSnapshot({ sandboxId: source, name: 'web' }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.AlreadyExists,
    );

    // A record an older agent wrote has no diskBytes: it is measured on load, the same number.
    const recordPath = join(webDir, 'template.json');
    const { diskBytes: _, ...older } = JSON.parse(readFileSync(recordPath, 'utf8'));
    writeFileSync(recordPath, JSON.stringify(older));
    // Deleting a template in use is allowed: its users hold their own links to the files they need.
    const listed = await t.client.listSnapshots({});
    assert.equal(Number(listed.snapshots.find((s) => s.name === 'web')?.diskBytes), diskBytes);
    assert.deepEqual(listed.snapshots.find((s) => s.name === 'web')?.dependents.sort(), [...spawned].sort());
    await t.client.deleteSnapshot({ name: 'web' });
    const user = spawned[2] as string;
    await pause(user);
    await resume(user);
    assert.equal((await verifyKeeper(t.client, user)).result, 'ok', 'a user of a deleted template resumes');

    for (const id of [source, ...spawned]) await t.client.destroySandbox({ sandboxId: id });
    assert.deepEqual(readdirSync(`${t.home}/sandboxes`), [], 'destroy leaves no sandbox files');
  });

  test('forks of a running and of a paused sandbox', async () => {
    const id = await newSandbox(256);
    await writeText(t.client, id, '/root/state.txt', 'before fork\n');
    const running = await t.client.forkSandbox({ sandboxId: id, count: 2 });
    assert.equal(running.sandboxes.length, 2);
    for (const fork of running.sandboxes) {
      assert.equal(fork.state, SandboxState.RUNNING);
      assert.equal(await readText(t.client, fork.id, '/root/state.txt'), 'before fork\n');
      await t.client.destroySandbox({ sandboxId: fork.id });
    }

    // Of a paused sandbox: each fork has the source's memory (a keeper checking 8 MiB of pattern) and
    // files; forks are independent of each other and of the source, which stays paused and resumes as it was.
    await startKeeper(t.client, id, 8);
    const atPause = (await verifyKeeper(t.client, id)).counter;
    await pause(id);
    const paused = await t.client.forkSandbox({ sandboxId: id, count: 2 });
    assert.equal(paused.sandboxes.length, 2);
    assert.equal((await t.client.getSandbox({ sandboxId: id })).sandbox?.state, SandboxState.PAUSED);
    const [a, b] = paused.sandboxes.map((f) => f.id) as [string, string];
    assert.notEqual(a, b);
    for (const fork of [a, b]) {
      assert.equal(t.agent.manager.get(fork).state, 'running');
      const { counter, result } = await verifyKeeper(t.client, fork);
      assert.equal(result, 'ok', `fork ${fork}: the source's memory`);
      assert.ok(counter >= atPause, `fork ${fork}: counter ${counter} goes on from the pause's ${atPause}`);
      assert.equal(await readText(t.client, fork, '/root/state.txt'), 'before fork\n');
    }
    await zeroKeeperPages(t.client, a);
    await writeText(t.client, a, '/root/state.txt', 'fork a\n');
    assert.equal((await verifyKeeper(t.client, a)).result, 'ok', 'fork a: its zeroed pages read zero');
    assert.equal((await verifyKeeper(t.client, b)).result, 'ok', "fork b: a's writes are not b's");
    assert.equal(await readText(t.client, b, '/root/state.txt'), 'before fork\n');
    for (const fork of [a, b]) await t.client.destroySandbox({ sandboxId: fork });

    // Resumed lazily, the source records what it touches; its forks start with that as their prefetch.
    await resume(id);
    assert.equal((await verifyKeeper(t.client, id)).result, 'ok', "the source's memory is its own");
    assert.equal(
      await readText(t.client, id, '/root/state.txt'),
      'before fork\n',
      "a fork's files are its own",
    );
    const warm = await t.client.forkSandbox({ sandboxId: id, count: 1 });
    const warmFork = warm.sandboxes[0]?.id ?? '';
    const forkSet = join(t.home, 'sandboxes', warmFork, 'snapshot', 'working-set.bin');
    assert.ok(
      existsSync(forkSet) && statSync(forkSet).size > 12,
      "a fork starts with its source's working set",
    );
    assert.equal(await readText(t.client, warmFork, '/root/state.txt'), 'before fork\n');
    await t.client.destroySandbox({ sandboxId: warmFork });
    await pause(id);
    const paths = t.agent.manager.paths(id);
    await t.client.destroySandbox({ sandboxId: id });
    assert.equal(existsSync(paths.dir), false, 'a destroyed paused sandbox leaves no files');
    await assert.rejects(
      t.client.forkSandbox({ sandboxId: id, count: 1 }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound,
    );
  });
});
