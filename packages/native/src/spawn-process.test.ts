import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { listenUnix } from './scm-rights.js';
import { spawnProcess } from './spawn-process.js';

const dir = mkdtempSync(join(tmpdir(), 'amber-spawn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('spawnProcess writes output to the file, hands over descriptors and reports the exit code', async () => {
  const listener = listenUnix(join(dir, 'l.sock'));
  const output = join(dir, 'out.log');
  const script = 'echo hi; echo oops >&2; readlink /proc/self/fd/3; read x || echo "stdin empty"; exit 7';
  const child = spawnProcess('sh', ['-c', script], { env: process.env, outputPath: output, fds: [listener] });
  closeSync(listener);
  assert.deepEqual(await child.exited, { code: 7, signal: null });
  assert.match(readFileSync(output, 'utf8'), /^hi\noops\nsocket:\[\d+\]\nstdin empty\n$/);
});

test('spawnProcess names the signal that ended the child', async () => {
  const child = spawnProcess('sleep', ['30'], { env: process.env, outputPath: join(dir, 'sleep.log') });
  process.kill(child.pid, 'SIGKILL');
  assert.deepEqual(await child.exited, { code: null, signal: 'SIGKILL' });
});

test('the child leads a session of its own and gets exactly the given environment', async () => {
  const output = join(dir, 'session.log');
  const child = spawnProcess('sh', ['-c', 'cut -d" " -f6 /proc/$$/stat; echo "$ONLY" "$HOME"'], {
    env: { PATH: process.env.PATH, ONLY: 'given' },
    outputPath: output,
  });
  assert.deepEqual(await child.exited, { code: 0, signal: null });
  assert.equal(readFileSync(output, 'utf8'), `${child.pid}\ngiven \n`);
});

test('spawnProcess throws the errno name when the program cannot start', () => {
  assert.throws(
    () => spawnProcess('amber-no-such-program', [], { env: process.env, outputPath: join(dir, 'x') }),
    {
      code: 'ENOENT',
    },
  );
});

test('the exit reaches a process that has nothing else to wait for', async () => {
  const addon = fileURLToPath(new URL('../build/Release/amber_native.node', import.meta.url));
  const script = `
    const b = require(${JSON.stringify(addon)});
    b.spawnProcess('sleep', ['0.3'], [], ${JSON.stringify(join(dir, 'alive.log'))}, [], (code, signal) =>
      console.log('exited', code, signal));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { timeout: 20_000 });
  assert.equal(stdout, 'exited 0 null\n');
});
