// Bad input on the handoff socket: the pager rejects with a clear PagerError, answers the client with
// an "error <code>: <reason>" line and hangs up; nothing waits forever.
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { connectUnix, eventfdCreate, SHIM_EXIT_HANDOFF_FAILED, sendWithFds } from '@amber/native';
import { PAGE_SIZE, UffdHelperProcess } from '@amber/native/testing';
import { PagerError } from './errors.js';
import { Pager } from './pager.js';
import { buildChain } from './test-support/chain-fixture.js';
import { testLogger, testPaths } from './test-support/fixture.js';

const SIZE = 4 << 20;

async function listening(t: TestContext, opts: { handoffTimeoutMs?: number } = {}) {
  const paths = testPaths(t);
  const chain = buildChain(paths.dir, SIZE, 1);
  const pager = await Pager.listen({
    socketPath: paths.socketPath,
    snapshot: chain.source,
    logger: testLogger(),
    ...opts,
  });
  t.after(() => pager.close());
  return { pager, paths };
}

/** Sends `data` (+ fds) like a shim would and returns everything the pager answers until it hangs up. */
async function handoff(socketPath: string, data: string, fds: number[]): Promise<string> {
  const fd = connectUnix(socketPath);
  sendWithFds(fd, Buffer.from(data), fds);
  const socket = new Socket({ fd, readable: true, writable: true });
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => {
    reply += c;
  });
  await new Promise((resolve) => socket.once('close', resolve));
  return reply;
}

const region = (extra: Record<string, unknown> = {}) =>
  JSON.stringify([{ base_host_virt_addr: 0x7f0000000000, size: SIZE, offset: 0, page_size: 4096, ...extra }]);

const cases: Array<[string, string, boolean, string, RegExp]> = [
  ['malformed JSON', '[{"base_host_virt_addr": 12', true, 'bad_handoff', /not JSON/],
  ['no fd', region(), false, 'no_fd', /exactly one userfaultfd/],
  ['a wrong page size', region({ page_size: 2 << 20 }), true, 'bad_page_size', /page size 2097152/],
  [
    'a region larger than the snapshot',
    region({ size: 2 * SIZE }),
    true,
    'layout_mismatch',
    /snapshot holds/,
  ],
];

for (const [name, data, withFd, code, message] of cases) {
  test(`a handoff with ${name} is refused with ${code}`, async (t) => {
    const { pager, paths } = await listening(t);
    const dummy = eventfdCreate(); // any fd will do: the pager must refuse before using it
    try {
      const [reply, error] = await Promise.all([
        handoff(paths.socketPath, data, withFd ? [dummy] : []),
        pager.attached.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ]);
      assert.ok(error instanceof PagerError, String(error));
      assert.equal(error.code, code);
      assert.match(error.message, message);
      assert.match(reply, new RegExp(`^error ${code}: .+\\n$`));
      assert.equal(pager.state, 'failed');
      assert.throws(() => pager.stats(), { code: 'not_attached' });
    } finally {
      closeSync(dummy);
    }
  });
}

test('a real shim whose mapping does not fit the snapshot exits fast with the reason', async (t) => {
  const { pager, paths } = await listening(t);
  const helper = new UffdHelperProcess(paths.memPath, 2 * SIZE, pager.shimEnv(paths.memPath));
  t.after(() => helper.kill());
  await assert.rejects(pager.attached, { code: 'layout_mismatch' });
  const exit = await helper.exited;
  assert.equal(exit.code, SHIM_EXIT_HANDOFF_FAILED);
  assert.match(exit.stderr, /the pager refused the handoff: error layout_mismatch: .*snapshot holds 4194304/);
  assert.equal(helper.stderr.split('\n').filter(Boolean).length, 1, 'one clear line');
  void PAGE_SIZE;
});

test('no handoff in time is handoff_timeout; close() before one is closed', async (t) => {
  const { pager } = await listening(t, { handoffTimeoutMs: 100 });
  await assert.rejects(pager.attached, { code: 'handoff_timeout' });
  const other = await listening(t);
  await other.pager.close();
  await assert.rejects(other.pager.attached, { code: 'closed' });
});
