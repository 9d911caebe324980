import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Filesystem, ListDirResponseSchema } from '@amber/proto/filesystem';
import { create, equals, fromBinary, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { compressionGzip, createConnectTransport } from '@connectrpc/connect-node';
import { listDirBinary, listDirJson } from './entry-encoding.js';
import { type EntryRow, entryMessage } from './entry-info.js';
import { basicAuth, startTestEnvd, type TestEnvd } from './test-envd.js';
import type { OwnerNames } from './users.js';

const names: OwnerNames = {
  user: (uid) => (uid === 0 ? 'root' : String(uid)),
  group: (gid) => (gid === 0 ? '' : `g${gid}`),
};

const rows: EntryRow[] = [
  { name: 'plain', path: '/d/plain', mode: 0o100644, uid: 0, gid: 0, size: 3, mtimeMs: 1_700_000_000_123.9 },
  { name: 'empty', path: '/d/empty', mode: 0o100000, uid: 1000, gid: 1000, size: 0, mtimeMs: 0 },
  { name: 'big', path: '/d/big', mode: 0o104755, uid: 7, gid: 7, size: 2 ** 40 + 5, mtimeMs: -1_500.5 },
  { name: 'dir', path: '/d/dir', mode: 0o041777, uid: 0, gid: 5, size: 4096, mtimeMs: 1_000 },
  {
    name: 'link',
    path: '/d/link',
    mode: 0o120777,
    uid: 0,
    gid: 0,
    size: 4,
    mtimeMs: 5,
    symlinkTarget: 'dir',
  },
  {
    name: 'dangling',
    path: '/d/dangling',
    mode: 0o120777,
    uid: 0,
    gid: 0,
    size: 0,
    mtimeMs: 5,
    symlinkTarget: '',
  },
  { name: 'fifo', path: '/d/fifo', mode: 0o010600, uid: 0, gid: 0, size: 0, mtimeMs: 5 },
  {
    name: 'ünï 😀 "q"\n',
    path: '/d/ünï 😀 "q"\n',
    mode: 0o100600,
    uid: 0,
    gid: 0,
    size: 128,
    mtimeMs: 253_402_300_799_000,
    metadata: { team: 'blue', 'x-y': '', long: 'v'.repeat(300) },
  },
];

test('the hand encodings decode to what protobuf-es builds from the same rows', () => {
  const expected = create(ListDirResponseSchema, { entries: rows.map((row) => entryMessage(row, names)) });
  const binary = fromBinary(ListDirResponseSchema, listDirBinary(rows, names));
  assert.ok(equals(ListDirResponseSchema, binary, expected), 'binary differs');
  const json = fromJson(ListDirResponseSchema, JSON.parse(listDirJson(rows, names)) as JsonValue);
  assert.ok(equals(ListDirResponseSchema, json, expected), 'JSON differs');
  assert.equal(listDirBinary([], names).length, 0);
});

let envd: TestEnvd;
before(async () => {
  envd = await startTestEnvd();
  const dir = join(envd.dir, 'many');
  mkdirSync(join(dir, 'sub/deeper'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), 'x'.repeat(i));
  writeFileSync(join(dir, 'sub/inner.txt'), 'inner');
  symlinkSync('sub', join(dir, 'to-sub'));
  utimesSync(join(dir, 'f07'), new Date(86_400_123), new Date(86_400_123));
});
after(() => envd.close());

function client(format: 'binary' | 'json' | 'gzip') {
  return createClient(
    Filesystem,
    createConnectTransport({
      baseUrl: envd.base,
      httpVersion: '1.1',
      useBinaryFormat: format !== 'json',
      // A compressed request is not the fast path's: it goes through the Connect adapter and the service.
      ...(format === 'gzip' && { sendCompression: compressionGzip, compressMinBytes: 0 }),
      interceptors: [
        (next) => (req) => {
          req.header.set('authorization', basicAuth('root'));
          return next(req);
        },
      ],
    }),
  );
}

test('ListDir answers the same over the fast path (binary and JSON) and through the Connect adapter', async () => {
  const path = join(envd.dir, 'many');
  for (const depth of [1, 3]) {
    const viaAdapter = create(ListDirResponseSchema, await client('gzip').listDir({ path, depth }));
    for (const format of ['binary', 'json'] as const) {
      const fast = create(ListDirResponseSchema, await client(format).listDir({ path, depth }));
      assert.ok(equals(ListDirResponseSchema, fast, viaAdapter), `${format} at depth ${depth} differs`);
    }
    assert.equal(viaAdapter.entries.length, depth === 1 ? 52 : 54);
  }
});

test('fast-path errors are Connect errors with E2B codes', async () => {
  for (const format of ['binary', 'json'] as const) {
    await assert.rejects(client(format).listDir({ path: join(envd.dir, 'missing') }), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.NotFound, err.message);
      return true;
    });
    await assert.rejects(client(format).listDir({ path: join(envd.dir, 'many/f01') }), (err: unknown) => {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      assert.match(err.rawMessage, /not a directory/);
      return true;
    });
  }
  // Undecodable bodies: the fast path's own message (so both encodings are known to take it).
  for (const [type, body] of [
    ['application/json', '{"path": 5'],
    ['application/proto', Buffer.from([0x0a, 0x7f])],
  ] as const) {
    const res = await fetch(`${envd.base}/filesystem.Filesystem/ListDir`, {
      method: 'POST',
      headers: { 'content-type': type, authorization: basicAuth('root') },
      body,
    });
    assert.equal(res.status, 400);
    const error = (await res.json()) as { code: string; message: string };
    assert.equal(error.code, 'invalid_argument');
    assert.match(error.message, /^cannot decode the request/);
  }
});
