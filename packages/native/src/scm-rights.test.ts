import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  acceptWithFds,
  connectUnix,
  eventfdCreate,
  eventfdSignal,
  listenUnix,
  peerCred,
  recvWithFds,
  sendWithFds,
  socketPair,
} from './scm-rights.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'amber-scm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('fds travel with a payload over a socket pair', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'f'), 'through the socket');
  const [a, b] = socketPair();
  const file = openSync(join(dir, 'f'), 'r');
  try {
    assert.equal(sendWithFds(a, Buffer.from('hello'), [file]), 5);
    const got = recvWithFds(b);
    assert.equal(got.data.toString(), 'hello');
    assert.equal(got.fds.length, 1);
    assert.equal(got.truncated, false);
    const buf = Buffer.alloc(64);
    const n = readSync(got.fds[0] as number, buf, 0, 64, 0);
    assert.equal(buf.subarray(0, n).toString(), 'through the socket');
    closeSync(got.fds[0] as number);
    assert.equal(peerCred(b).pid, process.pid);
    assert.throws(() => recvWithFds(b), { code: 'EAGAIN' });
  } finally {
    for (const fd of [a, b, file]) closeSync(fd);
  }
});

test('acceptWithFds receives the first message, its fds and the peer pid off the event loop', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 's');
  const listenFd = listenUnix(path);
  writeFileSync(join(dir, 'f'), 'payload file');
  const file = openSync(join(dir, 'f'), 'r');
  try {
    const accepting = acceptWithFds(listenFd, { timeoutMs: 5000 });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    await new Promise((r) => setTimeout(r, 20));
    const client = connectUnix(path);
    sendWithFds(client, Buffer.from('{"hello":1}'), [file]);
    const got = await accepting;
    clearInterval(ticker);
    assert.ok(ticks > 0, 'the event loop kept running while accept waited');
    assert.equal(got.data.toString(), '{"hello":1}');
    assert.equal(got.pid, process.pid);
    assert.equal(got.fds.length, 1);
    assert.equal(readFileSync(got.fds[0] as number, 'utf8'), 'payload file');
    for (const fd of [client, got.fd, ...got.fds]) closeSync(fd);
  } finally {
    closeSync(listenFd);
    closeSync(file);
  }
});

test('acceptWithFds times out and can be cancelled', async (t) => {
  const dir = tempDir(t);
  const listenFd = listenUnix(join(dir, 's'));
  const cancel = eventfdCreate();
  try {
    await assert.rejects(acceptWithFds(listenFd, { timeoutMs: 50 }), { code: 'ETIMEDOUT' });
    const waiting = acceptWithFds(listenFd, { timeoutMs: 10000, cancelFd: cancel });
    eventfdSignal(cancel);
    await assert.rejects(waiting, { code: 'ECANCELED' });
    // A client that connects but never speaks also times out.
    const client = connectUnix(join(dir, 's'));
    await assert.rejects(acceptWithFds(listenFd, { timeoutMs: 50 }), { code: 'ETIMEDOUT' });
    closeSync(client);
  } finally {
    closeSync(listenFd);
    closeSync(cancel);
  }
});

test('errors carry the errno name', (t) => {
  const dir = tempDir(t);
  assert.throws(() => connectUnix(join(dir, 'missing')), { code: 'ENOENT' });
  assert.throws(() => listenUnix(`${dir}/${'x'.repeat(120)}`), { code: 'ENAMETOOLONG' });
});
