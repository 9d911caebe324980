import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand } from './run-command.js';

test('runCommand feeds stdin and returns stdout, stderr and the exit code', async () => {
  const result = await runCommand('sh', ['-c', 'tr a-z A-Z; echo oops >&2; exit 3'], 'hello\n');
  assert.deepEqual(result, { code: 3, signal: null, stdout: 'HELLO\n', stderr: 'oops\n' });
});

test('runCommand rejects with the errno name when the program cannot start', async () => {
  await assert.rejects(runCommand('amber-no-such-program', []), { code: 'ENOENT' });
});

test('runCommand refuses arguments that are not strings', async () => {
  await assert.rejects(runCommand('echo', [1 as unknown as string]), {
    name: 'TypeError',
    message: 'args must be an array of strings',
  });
});

test('runCommand names the signal that ended the program', async () => {
  const result = await runCommand('sh', ['-c', 'kill -TERM $$']);
  assert.equal(result.code, null);
  assert.equal(result.signal, 'SIGTERM');
});

test('runCommand moves megabytes both ways at once without deadlock', async () => {
  const input = 'abcdefghijklmnopqrstuvwxyz012345\n'.repeat(128 * 1024); // 4 MiB, far above a pipe's buffer
  const result = await runCommand('cat', [], input);
  assert.equal(result.code, 0);
  assert.equal(result.stdout.length, input.length);
  assert.ok(result.stdout === input);
});

test('runCommand copes with a program that exits without reading its input', async () => {
  const result = await runCommand('true', [], 'x'.repeat(1 << 20));
  assert.equal(result.code, 0);
});

test("the program gets default signal dispositions and this process's environment", async () => {
  // Node ignores SIGPIPE; inherited, `yes` would report a broken pipe instead of dying quietly.
  process.env.AMBER_RUN_COMMAND_TEST = 'from-parent';
  try {
    const result = await runCommand('sh', ['-c', 'yes | head -n 1; echo "$AMBER_RUN_COMMAND_TEST"']);
    assert.deepEqual(result, { code: 0, signal: null, stdout: 'y\nfrom-parent\n', stderr: '' });
  } finally {
    delete process.env.AMBER_RUN_COMMAND_TEST;
  }
});

test('runCommand runs many programs at once, each with its own output', async () => {
  const results = await Promise.all(
    Array.from({ length: 24 }, (_, i) => runCommand('sh', ['-c', `sleep 0.05; echo ${i}`])),
  );
  assert.deepEqual(
    results.map((r) => r.stdout),
    results.map((_, i) => `${i}\n`),
  );
});
