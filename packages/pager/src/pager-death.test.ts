// A guest must never be left hanging on a pager that is gone: the shim ends it instead.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SHIM_EXIT_PAGER_LOST, shimEnv } from '@amber/native';
import { UffdHelperProcess } from '@amber/native/testing';
import { Pager } from './pager.js';
import { buildChain } from './test-support/chain-fixture.js';
import { testLogger, testPaths } from './test-support/fixture.js';

const SIZE = 4 << 20;

test('close() without detach ends the faulting process with the pager-lost code', async (t) => {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 2);
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
  });
  t.after(() => pager.close());
  const helper = new UffdHelperProcess(paths.memPath, SIZE, pager.shimEnv(paths.memPath));
  t.after(() => helper.kill());
  await pager.attached;
  await helper.ready();
  await helper.hashRange(0, 10);
  await pager.close();
  // The event itself: the process ends (a hang is the runner's per-test timeout), for this reason.
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_PAGER_LOST);
  assert.match(exit.stderr, /pager's connection closed without a detach/);
});

test('SIGKILL of the process holding the pager ends the faulting process too', async (t) => {
  const paths = testPaths(t);
  const child = spawn(
    process.execPath,
    [
      '--conditions=amber-source',
      '--import',
      'tsx',
      fileURLToPath(new URL('./test-support/pager-child.ts', import.meta.url)),
      JSON.stringify({ socketPath: paths.socketPath, chainDir: paths.dir, size: SIZE }),
    ],
    // Without NODE_TEST_CONTEXT: the child is a plain program, not a node:test subprocess.
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  t.after(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout });
  const next = async () => (await once(lines, 'line'))[0] as string;
  assert.equal(await next(), 'listening');
  const helper = new UffdHelperProcess(
    paths.memPath,
    SIZE,
    shimEnv({ memPath: paths.memPath, socketPath: paths.socketPath }),
  );
  t.after(() => helper.kill());
  assert.match(await next(), /^attached \d+$/);
  await helper.ready();
  await helper.hashRange(0, 10);
  child.kill('SIGKILL');
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_PAGER_LOST);
  // And a fault after the pager died does not hang the test: the process is already gone.
  await assert.rejects(helper.hashRange(20, 1));
});
