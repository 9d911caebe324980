import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { guestAddonPath } from '@amber/native';
import { loadGuestBinding } from '@amber/native/guest';
import { type GuestChild, spawnGuestChild } from './guest-child.js';

const native = loadGuestBinding(guestAddonPath);
const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'guest-child-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function text(stream: Readable | null): Promise<string> {
  let out = '';
  for await (const chunk of stream ?? []) out += chunk;
  return out;
}

/** Everything the child says, and how it ended ('exit' first, then 'close' once its pipes are drained). */
async function outcome(child: GuestChild) {
  const events: string[] = [];
  child.once('exit', () => events.push('exit'));
  const closed = once(child, 'close');
  const [stdout, stderr] = await Promise.all([text(child.stdout), text(child.stderr)]);
  const [code, signal] = await closed;
  events.push('close');
  return { stdout, stderr, code, signal, events };
}

describe('spawnGuestChild (vfork, pidfd)', () => {
  test('runs a program from PATH with its args, env and cwd; reports its exit code after its output', async () => {
    const child = spawnGuestChild(
      native,
      'sh',
      ['-c', 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3'],
      {
        cwd: dir,
        env: { ...env, GREETING: 'hello' },
      },
    );
    assert.ok((child.pid ?? 0) > 0);
    const result = await outcome(child);
    assert.deepEqual(result, {
      stdout: `hello from ${dir}\n`,
      stderr: 'oops\n',
      code: 3,
      signal: null,
      events: ['exit', 'close'],
    });
  });

  test('stdin is a pipe when asked for, /dev/null otherwise', async () => {
    const piped = spawnGuestChild(native, 'cat', [], { cwd: dir, env, stdin: true });
    piped.stdin?.end('through the pipe');
    assert.equal((await outcome(piped)).stdout, 'through the pipe');
    const closed = spawnGuestChild(native, 'cat', [], { cwd: dir, env });
    assert.equal(closed.stdin, null);
    assert.deepEqual(await outcome(closed), {
      stdout: '',
      stderr: '',
      code: 0,
      signal: null,
      events: ['exit', 'close'],
    });
  });

  test('kill ends it with the signal; once it is reaped, kill is refused', async () => {
    const child = spawnGuestChild(native, 'sleep', ['30'], { cwd: dir, env });
    const exited = once(child, 'exit');
    assert.equal(child.kill('SIGTERM'), true);
    assert.deepEqual(await exited, [null, 'SIGTERM', { code: null, signal: 15, coreDumped: false }]);
    assert.equal(child.kill('SIGKILL'), false);
  });

  test('a real-time signal, which has no name, is reported by its number', async () => {
    const child = spawnGuestChild(native, 'sleep', ['30'], { cwd: dir, env });
    const exited = once(child, 'exit');
    const realtime = 36; // SIGRTMIN+2 for glibc, whose SIGRTMIN is 34
    process.kill(child.pid ?? 0, realtime);
    assert.deepEqual(await exited, [null, 'SIG36', { code: null, signal: realtime, coreDumped: false }]);
  });

  test('the child starts with default signal dispositions (Node ignores SIGPIPE)', async () => {
    const child = spawnGuestChild(native, 'sh', ['-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status'], {
      cwd: dir,
      env,
    });
    const { stdout } = await outcome(child);
    assert.match(stdout, /SigBlk:\s+0+\n/);
    assert.match(stdout, /SigIgn:\s+0+\n/);
  });

  test('a program that cannot start is an error event in Node wording, then close', async () => {
    const missing = spawnGuestChild(native, 'no-such-program-anywhere', [], { cwd: dir, env });
    const closed = new Promise((resolve) => missing.once('close', resolve));
    const [err] = (await once(missing, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.message, 'spawn no-such-program-anywhere ENOENT');
    assert.equal(missing.pid, undefined);
    await closed;
    const badCwd = spawnGuestChild(native, 'true', [], { cwd: join(dir, 'missing'), env });
    assert.equal(((await once(badCwd, 'error')) as [NodeJS.ErrnoException])[0].code, 'ENOENT');
  });

  test('runs as another user with that user as its only group', {
    skip: process.getuid?.() !== 0 && 'needs root',
  }, async () => {
    const child = spawnGuestChild(native, 'id', [], { cwd: '/', env, uid: 65534, gid: 65534 });
    assert.match((await outcome(child)).stdout, /^uid=65534\(\w+\) gid=65534\(\w+\) groups=65534\(\w+\)\n$/);
    // The child shared this process's memory until its exec: none of this process's threads changed user.
    for (const task of await readdir('/proc/self/task')) {
      const status = await readFile(`/proc/self/task/${task}/status`, 'utf8');
      assert.match(status, /^Uid:\s+0\s+0\s+0\s+0$/m, `thread ${task}`);
      assert.match(status, /^Gid:\s+0\s+0\s+0\s+0$/m, `thread ${task}`);
    }
  });

  test('a background child holding the pipes does not hold the exit back', async () => {
    const child = spawnGuestChild(native, 'sh', ['-c', 'sleep 2 & echo started'], { cwd: dir, env });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    child.stdout?.destroy();
    child.stderr?.destroy();
    await once(child, 'close');
  });
});
