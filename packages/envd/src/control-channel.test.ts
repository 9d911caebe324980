// envd's control channel on the wire, over a raw TCP connection to a real envd on loopback: what a host
// that speaks it (packages/host-agent/src/envd/control-channel.ts) relies on, byte for byte.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestEnvd, type TestEnvd } from './test-envd.js';

let envd: TestEnvd;
before(async () => {
  envd = await startTestEnvd();
});
after(() => envd.close());

async function open(): Promise<{ socket: Socket; read(): Promise<string> }> {
  const socket = connect(Number(new URL(envd.base).port), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.setEncoding('utf8');
  let text = '';
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: string) => {
    text += chunk;
    wake?.();
  });
  /** Everything up to and including the next line end (or the blank line after the 101's headers). */
  const read = async () => {
    for (;;) {
      const end = text.startsWith('HTTP/') ? text.indexOf('\r\n\r\n') + 4 : text.indexOf('\n') + 1;
      if (end > 0) {
        const taken = text.slice(0, end);
        text = text.slice(end);
        return taken;
      }
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  };
  return { socket, read };
}

const UPGRADE =
  'GET /control HTTP/1.1\r\nHost: envd\r\nConnection: Upgrade\r\nUpgrade: amber-control\r\n\r\n';

test('after the switch, each JSON line gets one answer line, in order, even when sent with the upgrade', async () => {
  const { socket, read } = await open();
  // Lines that arrive in the same segment as the upgrade request (Node hands them over as `head`).
  socket.write(`${UPGRADE}{"op":"init","envVars":{"WIRE":"1"}}\nnot json\n`);
  assert.match(await read(), /^HTTP\/1\.1 101 Switching Protocols\r\nUpgrade: amber-control\r\n/);
  assert.equal(await read(), '{"ok":true}\n');
  assert.deepEqual(JSON.parse(await read()), {
    ok: false,
    code: 400,
    message: 'the request is not valid JSON',
  });
  socket.write('{"op":"init","timestamp":"yesterday-ish"}\n{"op":"sync"}\n[1]\n');
  assert.equal(JSON.parse(await read()).code, 400);
  assert.equal(await read(), '{"ok":true}\n');
  assert.match(JSON.parse(await read()).message, /must be a JSON object/);
  const res = await fetch(`${envd.base}/envs`);
  assert.equal(((await res.json()) as Record<string, string>).WIRE, '1');
  socket.destroy();
});

test('an upgrade to anything else is refused with 400', async () => {
  const { socket, read } = await open();
  socket.write('GET /control HTTP/1.1\r\nHost: envd\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  assert.match(await read(), /^HTTP\/1\.1 400 Bad Request\r\n/);
  socket.destroy();
});

test("a restore's clock init and a capture's sync are answered in order with the rest; the init needs no token", async () => {
  const { socket, read } = await open();
  socket.write(
    `${UPGRADE}{"op":"init","timestamp":1700000000000}\n{"op":"init","envVars":{"ORDER":"2"}}\n{"op":"init"}\n`,
  );
  assert.match(await read(), /^HTTP\/1\.1 101 /);
  for (let i = 0; i < 3; i++) assert.equal(await read(), '{"ok":true}\n');
  socket.write('{"op":"init","accessToken":"t-1"}\n');
  assert.equal(await read(), '{"ok":true}\n');
  try {
    // A wrong token does not stop a clock init (a restore never waits on a secret), but stops a sync, and
    // extra fields make an init one that needs the token. (The addon's thread answers the first, the
    // right-token sync below; envd's JS the rest.)
    socket.write(
      '{"op":"init","token":"wrong","timestamp":1700000000000}\n{"op":"sync"}\n{"op":"init","timestamp":1,"envVars":{}}\n',
    );
    assert.equal(await read(), '{"ok":true}\n');
    assert.equal(JSON.parse(await read()).code, 401);
    assert.equal(JSON.parse(await read()).code, 401);
    socket.write('{"op":"sync","token":"t-1"}\n{"op":"sync","token":"t-2"}\n');
    assert.equal(await read(), '{"ok":true}\n');
    assert.equal(JSON.parse(await read()).code, 401);
  } finally {
    socket.write('{"op":"init","token":"t-1","accessToken":""}\n');
    assert.equal(await read(), '{"ok":true}\n');
    socket.destroy();
  }
  const res = await fetch(`${envd.base}/envs`);
  assert.equal(((await res.json()) as Record<string, string>).ORDER, '2');
});
