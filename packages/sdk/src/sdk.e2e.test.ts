// The SDK against a real control plane with its real host agent and real VMs, over real HTTP and
// WebSocket. One sandbox carries most checks in order: every VM costs seconds on TCG.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane } from '@amber/control-plane';
import { AmberError, ApiKeys, type ConnectionOptions, health, Sandbox, Snapshot } from './node.js';

const MiB = 1 << 20;

async function collect(stream: ReadableStream<Uint8Array>): Promise<{ sha: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha: hash.digest('hex'), size };
}

describe('@amber/sdk against a real control plane', { timeout: 20 * 60_000 }, () => {
  let home: string;
  let shmDir: string;
  let cp: Awaited<ReturnType<typeof startControlPlane>>;
  let conn: ConnectionOptions;
  let sb: Sandbox;
  const created: Sandbox[] = [];
  const snapshotName = `sdk-e2e-${process.pid}`;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'amber-sdk-e2e-'));
    // Guest RAM in a directory of our own: other trees' agents sweep /dev/shm's top level when they start.
    shmDir = await mkdtemp('/dev/shm/amber-sdk-e2e-');
    cp = await startControlPlane({ home, port: 0, logLevel: 'silent', agentConfig: { shmDir } });
    conn = { url: cp.url, apiKey: cp.apiKey };
  });

  after(async () => {
    for (const s of created) await s.kill().catch(() => {});
    await Snapshot.delete(snapshotName, conn).catch(() => {});
    await cp?.close();
    await rm(home, { recursive: true, force: true });
    await rm(shmDir, { recursive: true, force: true });
  });

  it('health needs no key; a wrong key is unauthenticated', async () => {
    assert.equal((await health({ url: cp.url })).status, 'ok');
    await assert.rejects(Sandbox.list({}, { url: cp.url, apiKey: `e2b_${'0'.repeat(40)}` }), (err) => {
      assert.ok(err instanceof AmberError);
      assert.equal(err.code, 'unauthenticated');
      assert.equal(err.status, 401);
      return true;
    });
  });

  it('creates a sandbox that get and a metadata filter find', async () => {
    sb = await Sandbox.create({ metadata: { suite: 'sdk-e2e' }, envs: { GREETING: 'hello' } }, conn);
    created.push(sb);
    assert.equal(sb.state, 'running');
    assert.equal((await Sandbox.get(sb.id, conn)).info.metadata.suite, 'sdk-e2e');
    const found = await Sandbox.list({ metadata: { suite: 'sdk-e2e' }, state: 'running' }, conn);
    assert.deepEqual(
      found.map((s) => s.id),
      [sb.id],
    );
    assert.deepEqual(await Sandbox.list({ metadata: { suite: 'nothing-has-this' } }, conn), []);
  });

  it('exec runs argv and shell commands with envs, cwd, stdin and exit codes', async () => {
    const argv = await sb.exec(['printf', '%s|', 'a b', 'c']);
    assert.deepEqual([argv.exitCode, argv.stdout, argv.encoding], [0, 'a b|c|', 'utf8']);
    const shell = await sb.exec('echo "$GREETING $X" in $(pwd); echo oops >&2; exit 7', {
      envs: { X: 'y' },
      cwd: '/tmp',
    });
    assert.equal(shell.exitCode, 7);
    assert.equal(shell.stdout, 'hello y in /tmp\n');
    assert.equal(shell.stderr, 'oops\n');
    assert.equal((await sb.exec(['cat'], { stdin: 'piped' })).stdout, 'piped');
  });

  it('execStream streams output, takes stdin and reports the exit', async () => {
    const proc = await sb.execStream([
      'sh',
      '-c',
      'echo started; read line; echo "got $line"; echo e >&2; exit 3',
    ]);
    assert.ok(proc.pid > 0);
    const seen: string[] = [];
    const decoder = new TextDecoder();
    for await (const out of proc) {
      seen.push(`${out.stream}:${decoder.decode(out.data)}`);
      if (seen.join('').includes('started')) {
        proc.sendStdin('line-1\n');
        proc.closeStdin();
      }
    }
    assert.deepEqual(await proc.wait(), { exitCode: 3, signal: null });
    const stdout = seen
      .filter((s) => s.startsWith('stdout:'))
      .map((s) => s.slice(7))
      .join('');
    assert.equal(stdout, 'started\ngot line-1\n');
    assert.ok(seen.some((s) => s === 'stderr:e\n'));
  });

  it('execStream sends a signal to the process', async () => {
    const sleeper = await sb.execStream(['sleep', '600']);
    sleeper.signal('SIGKILL');
    assert.equal((await sleeper.wait()).signal, 'SIGKILL');
  });

  it('exec as another user reports a signal by name, and a program that does not exist as an error', async () => {
    const killed = await sb.exec('kill -TERM $$', { user: 'root' });
    assert.deepEqual([killed.exitCode, killed.signal], [-1, 'SIGTERM']);
    // Without a user it runs through the host agent's Exec, which says why in the same words.
    await assert.rejects(sb.exec(['no-such-program-here']), {
      code: 'invalid_state',
      reason: 'command_not_found',
      message: /cannot run no-such-program-here: .*ENOENT/,
    });
    await assert.rejects(sb.exec(['no-such-program-here'], { user: 'root' }), {
      code: 'invalid_state',
      reason: 'command_not_found',
      message: /cannot run no-such-program-here: .*ENOENT/,
    });
  });

  it('execStream of a program that does not exist fails with why, not an exit', async () => {
    const missing = await sb.execStream(['no-such-program-here']);
    const expected = {
      code: 'invalid_state',
      reason: 'command_not_found',
      message: /cannot run no-such-program-here: .*ENOENT/,
    };
    await assert.rejects(missing.wait(), expected);
  });

  it('execStream runs a pty of the asked size, and resize changes it', async () => {
    const tty = await sb.execStream(['sh', '-c', 'stty size; tty; read x; stty size'], {
      pty: true,
      cols: 101,
      rows: 33,
    });
    let text = '';
    let resized = false;
    for await (const out of tty) {
      text += new TextDecoder().decode(out.data);
      if (/\/dev\/pts\//.test(text) && !resized) {
        resized = true;
        tty.resize(120, 40);
        tty.sendStdin('resized\r');
      }
    }
    assert.match(text, /33 101/);
    assert.match(text, /\/dev\/pts\//);
    assert.match(text, /40 120/);
  });

  it('files: a large stream in and out', async () => {
    const chunks = Array.from({ length: 12 }, () => randomBytes(MiB));
    const want = createHash('sha256');
    for (const c of chunks) want.update(c);
    async function* source() {
      for (const c of chunks) yield c;
    }
    const written = await sb.files.write('/root/big.bin', source());
    assert.equal(written.size, 12 * MiB);
    const back = await collect(await sb.files.read('/root/big.bin'));
    assert.deepEqual(back, { sha: want.digest('hex'), size: 12 * MiB });
    await sb.files.write('/root/note.txt', new Blob(['note']));
    assert.equal(await sb.files.readText('/root/note.txt'), 'note');
    await assert.rejects(sb.files.read('/root/no-such-file'), { code: 'not_found', status: 404 });
  });

  it('files: list, mkdir, move, remove', async () => {
    const dir = '/root/sdk-files';
    assert.equal((await sb.files.mkdir(dir)).type, 'dir');
    await assert.rejects(sb.files.mkdir(dir), { code: 'already_exists' });
    await sb.files.move('/root/big.bin', `${dir}/big.bin`);
    const moved = await sb.files.move('/root/note.txt', `${dir}/moved.txt`);
    assert.equal(moved.name, 'moved.txt');
    assert.equal(await sb.files.readText(`${dir}/moved.txt`), 'note');
    const entries = await sb.files.list(dir);
    assert.deepEqual(entries.map((e) => e.name).sort(), ['big.bin', 'moved.txt']);
    assert.equal(entries.find((e) => e.name === 'big.bin')?.size, 12 * MiB);
    await sb.files.remove(`${dir}/big.bin`);
    await assert.rejects(sb.files.read(`${dir}/big.bin`), { code: 'not_found', status: 404 });
  });

  it('pause and resume keep files and processes; a paused sandbox refuses exec with its state', async () => {
    await sb.exec('echo kept > /tmp/kept; sleep 3600 >/dev/null 2>&1 & echo $! > /tmp/sleep.pid');
    // A stream open across the pause ends, and says why.
    const streaming = await sb.execStream(['sleep', '3600']);
    const cut = streaming.wait().then(
      () => undefined,
      (err: unknown) => err,
    );
    await sb.pause();
    const err = await cut;
    assert.ok(err instanceof AmberError, String(err));
    assert.equal(err.code, 'invalid_state');
    assert.match(err.message, /paused|pausing/);
    assert.equal(sb.state, 'paused');
    assert.equal(sb.info.expiresAt, null);
    await assert.rejects(sb.exec(['true']), (err) => {
      assert.ok(err instanceof AmberError);
      assert.equal(err.code, 'invalid_state');
      assert.equal(err.status, 409);
      assert.match(err.message, /paused/);
      return true;
    });
    await sb.resume();
    assert.equal(sb.state, 'running');
    assert.equal((await sb.exec('cat /tmp/kept')).stdout, 'kept\n');
    assert.equal((await sb.exec('kill -0 $(cat /tmp/sleep.pid) && echo alive')).stdout, 'alive\n');
  });

  it('setTimeout moves the expiry', async () => {
    await sb.setTimeout(3600);
    assert.equal(sb.info.timeoutSec, 3600);
    const left = Date.parse(sb.info.expiresAt ?? '') - Date.now();
    assert.ok(left > 3000_000 && left <= 3600_000, `expires in ${left} ms`);
  });

  it('a snapshot spawns sandboxes with its files; fork copies the current state', async () => {
    await sb.exec('echo from-snapshot > /tmp/marker');
    const snap = await Snapshot.create(sb, snapshotName, {}, conn);
    assert.equal(snap.name, snapshotName);
    assert.ok((snap.memoryBytes ?? 0) > 0 && (snap.diskBytes ?? 0) > 0, JSON.stringify(snap));
    const listed = (await Snapshot.list(conn)).find((s) => s.name === snapshotName);
    assert.deepEqual([listed?.memoryBytes, listed?.diskBytes], [snap.memoryBytes, snap.diskBytes]);
    const spawned = await Sandbox.create({ template: snapshotName }, conn);
    created.push(spawned);
    assert.equal(spawned.info.template, snapshotName);
    assert.equal((await spawned.exec('cat /tmp/marker')).stdout, 'from-snapshot\n');
    await sb.exec('echo after > /tmp/marker');
    const [fork] = await sb.fork(1);
    assert.ok(fork);
    created.push(fork);
    assert.notEqual(fork.id, sb.id);
    assert.equal((await fork.exec('cat /tmp/marker')).stdout, 'after\n');
    await spawned.kill();
    await Snapshot.delete(snapshotName, conn);
    await assert.rejects(Snapshot.get(snapshotName, conn), { code: 'not_found' });
  });

  it('API keys: a new key works, is listed without its secret, and stops working when deleted', async () => {
    const key = await ApiKeys.create('sdk-e2e', conn);
    assert.match(key.key, /^e2b_[0-9a-f]+$/);
    const other = { url: cp.url, apiKey: key.key };
    assert.ok((await Sandbox.list({}, other)).some((s) => s.id === sb.id));
    const listed = (await ApiKeys.list(conn)).find((k) => k.id === key.id);
    assert.ok(listed);
    assert.equal((listed as unknown as { key?: string }).key, undefined);
    await ApiKeys.delete(key.id, conn);
    await assert.rejects(Sandbox.list({}, other), { code: 'unauthenticated' });
  });

  it('kill destroys the sandbox', async () => {
    await sb.kill();
    await assert.rejects(Sandbox.get(sb.id, conn), { code: 'not_found', status: 404 });
  });
});
