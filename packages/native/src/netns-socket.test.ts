import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { connectInNetns } from './netns-socket.js';

const ns = `amber-test-${process.pid}`;

before(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
});
after(() => {
  execFileSync('ip', ['netns', 'del', ns]);
});

test('a socket created in a namespace reaches a server only that namespace can see', async () => {
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      '-e',
      `require('net').createServer(s => s.end('hello from ' + require('os').hostname())).listen(5999, '127.0.0.1', () => console.log('up'))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await once(server.stdout, 'data');
    const socket = connectInNetns(`/run/netns/${ns}`, '127.0.0.1', 5999);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    await once(socket, 'end');
    assert.match(Buffer.concat(chunks).toString(), /^hello from /);

    // The same address from the host's own namespace must not reach the sandboxed server.
    const { connect } = await import('node:net');
    const direct = connect(5999, '127.0.0.1');
    const [err] = (await once(direct, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
  } finally {
    server.kill('SIGKILL');
  }
});

test('an unknown namespace gives an error carrying the errno name', () => {
  assert.throws(() => connectInNetns('/run/netns/does-not-exist', '127.0.0.1', 1), { code: 'ENOENT' });
});
