import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connectInNetns } from './netns-socket.js';
import { restoreTcpConnection, saveTcpConnection } from './tcp-repair.js';

// The pause/resume shape: a server in one namespace stays put (the guest, frozen); the client side lives in
// a namespace that is deleted and recreated with the same addresses (the sandbox's slot).
const server = `amber-trs-${process.pid}`;
const client = `amber-trc-${process.pid}`;
const ns = (name: string) => `/run/netns/${name}`;

function ip(...args: string[]) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function createClientNamespace() {
  ip('netns', 'add', client);
  ip('-n', client, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 's0', 'netns', server);
  ip('-n', client, 'addr', 'add', '10.213.0.2/30', 'dev', 'c0');
  ip('-n', client, 'link', 'set', 'c0', 'up');
  ip('-n', server, 'addr', 'add', '10.213.0.1/30', 'dev', 's0');
  ip('-n', server, 'link', 'set', 's0', 'up');
}

// Answers each line with `<connection number>:<lines on this connection>:<line>`, and reports closes.
const serverScript = `
let connections = 0;
require('net').createServer((s) => {
  const id = ++connections; let lines = 0; let buf = '';
  s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { s.write(id + ':' + ++lines + ':' + buf.slice(0, i) + '\\n'); buf = buf.slice(i + 1); } });
  s.on('close', () => console.log('closed ' + id));
}).listen(7001, '10.213.0.1', () => console.log('up'));`;

async function waitUntil(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not done in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function ask(socket: Socket, line: string): Promise<string> {
  socket.write(`${line}\n`);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return data.toString().trim();
}

before(() => ip('netns', 'add', server));
after(() => ip('netns', 'del', server));

test('a connection saved in one namespace goes on from a recreated one, with no handshake', async () => {
  const proc = spawn('ip', ['netns', 'exec', server, process.execPath, '-e', serverScript], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const serverLog: string[] = [];
  proc.stdout.setEncoding('utf8').on('data', (d: string) => serverLog.push(d));
  try {
    createClientNamespace();
    while (!serverLog.join('').includes('up')) await once(proc.stdout, 'data');
    const first = connectInNetns(ns(client), '10.213.0.1', 7001);
    await once(first, 'connect');
    assert.equal(await ask(first, 'a'), '1:1:a');

    const state = saveTcpConnection(first);
    assert.deepEqual(state.remote, { address: '10.213.0.1', port: 7001 });
    first.destroy();
    ip('netns', 'del', client);
    // The kernel tears a deleted namespace down in the background; until then the old veth's peer s0 is
    // still in the server's namespace, and a new pair by that name would be refused ("File exists").
    await waitUntil(
      () => spawnSync('ip', ['-n', server, 'link', 'show', 's0'], { stdio: 'ignore' }).status !== 0,
    );
    createClientNamespace();

    const second = restoreTcpConnection(ns(client), state);
    assert.equal(await ask(second, 'b'), '1:2:b', 'the server answers on its first connection');
    assert.equal(await ask(second, 'c'), '1:3:c');
    assert.ok(!serverLog.join('').includes('closed'), 'the server never saw the connection close');
    second.destroy();
  } finally {
    proc.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', client]);
  }
});

/** Waits until the kernel holds `count` unread bytes for `socket` (its Recv-Q, as `ss` reports it). */
async function unreadBytesArrived(socket: Socket, count: number): Promise<void> {
  const filter = `src 127.0.0.1:${socket.localPort} and dst 127.0.0.1:${socket.remotePort}`;
  for (;;) {
    // "ESTAB 6 0 ..." or, once the server's FIN is in too, "CLOSE-WAIT 6 0 ...".
    const line = execFileSync('ss', ['-Htn', filter], { encoding: 'utf8' }).trim();
    if (Number(line.split(/\s+/)[1]) >= count) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a connection with unread bytes is refused, and bad state is a TypeError', async () => {
  const listener = (await import('node:net')).createServer((s) => s.end('unread'));
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as { port: number };
  const socket = (await import('node:net')).connect(port, '127.0.0.1');
  socket.pause();
  await once(socket, 'connect');
  await unreadBytesArrived(socket, 'unread'.length);
  try {
    assert.throws(() => saveTcpConnection(socket), { code: 'EBUSY' });
    assert.throws(() => restoreTcpConnection(ns(server), { local: {} } as never), TypeError);
  } finally {
    // Read to the end first: closing with unread bytes would reset the server's side.
    socket.resume();
    await once(socket, 'end');
    socket.destroy();
    listener.close();
  }
});
