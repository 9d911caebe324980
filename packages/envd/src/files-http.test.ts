import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Code, ConnectError } from '@connectrpc/connect';
import { startTestEnvd, type TestEnvd } from './test-envd.js';

let envd: TestEnvd;
before(async () => {
  envd = await startTestEnvd();
});
after(() => envd.close());

const url = (query: Record<string, string>) => `${envd.base}/files?${new URLSearchParams(query)}`;

describe('HTTP /files', () => {
  test('three files in one multipart upload land with their sizes, modes and owner', async () => {
    const form = new FormData();
    form.append('file', new Blob(['a']), 'batch/one.txt');
    form.append('file', new Blob(['bb']), 'batch/two.txt');
    form.append('file', new Blob(['ccc']), `${envd.userHome}/batch/three.txt`);
    const res = await fetch(url({ username: 'user' }), { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const written = (await res.json()) as Array<{ path: string; name: string; type: string }>;
    assert.deepEqual(
      written.map((w) => [w.path, w.type]),
      ['one.txt', 'two.txt', 'three.txt'].map((n) => [join(envd.userHome, 'batch', n), 'file']),
    );
    const listed = await envd.filesystem('user').listDir({ path: 'batch' });
    assert.deepEqual(
      listed.entries.map((e) => [e.name, Number(e.size), e.mode, e.owner, e.group]),
      [
        ['one.txt', 1, 0o644, 'user', 'user'],
        ['three.txt', 3, 0o644, 'user', 'user'],
        ['two.txt', 2, 0o644, 'user', 'user'],
      ],
    );
    assert.equal(statSync(join(envd.userHome, 'batch')).uid, 1000);
  });

  test('an upload keeps an existing file’s mode and writes through a symlink, as E2B’s in-place write', async () => {
    const upload = async (path: string, text: string) => {
      const form = new FormData();
      form.append('file', new Blob([text]), 'f');
      const res = await fetch(url({ username: 'user', path }), { method: 'POST', body: form });
      assert.equal(res.status, 200, await res.clone().text());
    };
    const script = join(envd.userHome, 'run.sh');
    await upload(script, 'echo one\n');
    chmodSync(script, 0o750);
    await upload(script, 'echo two\n');
    assert.equal(statSync(script).mode & 0o7777, 0o750, 'the script stays executable');
    assert.equal(readFileSync(script, 'utf8'), 'echo two\n');

    const real = join(envd.userHome, 'real.conf');
    const link = join(envd.userHome, 'link.conf');
    symlinkSync(real, link); // dangling until the first upload creates its target
    await upload(link, 'first');
    await upload(link, 'second');
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
    assert.equal(readFileSync(real, 'utf8'), 'second');
  });

  test('multipart parts named by paths in new nested directories: every parent made, owned by the caller', async () => {
    const form = new FormData();
    form.append('file', new Blob(['1']), 'nest/a/b/one.txt');
    form.append('file', new Blob(['22']), `${envd.userHome}/nest/c/two.txt`);
    form.append('file', new Blob(['333']), 'nest/a/three.txt');
    const res = await fetch(url({ username: 'user' }), { method: 'POST', body: form });
    assert.equal(res.status, 200, await res.clone().text());
    const listed = await envd.filesystem('user').listDir({ path: 'nest', depth: 3 });
    assert.deepEqual(
      listed.entries.map((e) => [e.path.slice(envd.userHome.length + 1), Number(e.size), e.owner, e.group]),
      [
        ['nest/a', 4096, 'user', 'user'],
        ['nest/a/b', 4096, 'user', 'user'],
        ['nest/a/b/one.txt', 1, 'user', 'user'],
        ['nest/a/three.txt', 3, 'user', 'user'],
        ['nest/c', 4096, 'user', 'user'],
        ['nest/c/two.txt', 2, 'user', 'user'],
      ],
    );
    assert.equal(statSync(join(envd.userHome, 'nest')).uid, 1000);
    // As root into a new tree outside the home: root's.
    const asRoot = new FormData();
    asRoot.append('file', new Blob(['r']), join(envd.dir, 'rootmade/x/r.txt'));
    const r = await fetch(url({ username: 'root' }), { method: 'POST', body: asRoot });
    assert.equal(r.status, 200);
    assert.equal(statSync(join(envd.dir, 'rootmade/x')).uid, 0);
  });

  test('gzip both ways: a gzip-encoded upload is stored plain, a download is gzipped when accepted', async () => {
    const text = 'compress me '.repeat(1000);
    const up = await fetch(url({ username: 'root', path: join(envd.dir, 'gz.txt') }), {
      method: 'POST',
      body: gzipSync(text),
      headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
    });
    assert.equal(up.status, 200);
    assert.equal(statSync(join(envd.dir, 'gz.txt')).size, text.length);
    const { request } = await import('node:http');
    const body = await new Promise<{ encoding?: string; disposition?: string; data: Buffer }>(
      (resolve, reject) => {
        const req = request(url({ username: 'root', path: join(envd.dir, 'gz.txt') }), {
          headers: { 'accept-encoding': 'gzip' },
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              encoding: res.headers['content-encoding'],
              disposition: res.headers['content-disposition'],
              data: Buffer.concat(chunks),
            }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(body.encoding, 'gzip');
    assert.match(body.disposition ?? '', /attachment; filename\*=UTF-8''gz\.txt/);
    assert.equal(gunzipSync(body.data).toString(), text);
  });

  test('bad requests: no file part, no path, a directory, a path above /, an unknown user', async () => {
    const empty = new FormData();
    empty.append('notafile', 'just a field');
    const noPart = await fetch(url({ username: 'user' }), { method: 'POST', body: empty });
    assert.equal(noPart.status, 400);
    assert.match(((await noPart.json()) as { message: string }).message, /no file part/);
    const noPath = await fetch(url({ username: 'user' }), {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(noPath.status, 400);
    mkdirSync(join(envd.dir, 'a-dir'));
    const dirAsFile = await fetch(url({ username: 'root', path: join(envd.dir, 'a-dir') }), {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(dirAsFile.status, 400);
    assert.match(((await dirAsFile.json()) as { message: string }).message, /is a directory/);
    assert.equal((await fetch(url({ username: 'root', path: join(envd.dir, 'a-dir') }))).status, 400);
    const above = await fetch(url({ username: 'root', path: '/../../etc/passwd' }));
    assert.equal(above.status, 400);
    assert.equal((await fetch(url({ username: 'ghost', path: '/etc/hostname' }))).status, 401);
    assert.equal((await fetch(`${envd.base}/health`)).status, 204);
  });

  test('GET /envs and GET /metrics', async () => {
    await fetch(`${envd.base}/init`, { method: 'POST', body: JSON.stringify({ envVars: { SHOWN: 'yes' } }) });
    assert.equal(((await (await fetch(`${envd.base}/envs`)).json()) as Record<string, string>).SHOWN, 'yes');
    const metrics = (await (await fetch(`${envd.base}/metrics`)).json()) as Record<string, number>;
    for (const key of ['cpu_count', 'cpu_used_pct', 'mem_total', 'mem_used', 'disk_used', 'disk_total'])
      assert.equal(typeof metrics[key], 'number', key);
    assert.ok((metrics.cpu_count ?? 0) >= 1);
    assert.ok((metrics.mem_used ?? 0) > 0 && (metrics.mem_used ?? 0) < (metrics.mem_total ?? 0));
    assert.ok((metrics.disk_total ?? 0) > (metrics.disk_used ?? 0));
  });
});

describe('access token and /init defaults', () => {
  test('with a token set, every call but /health needs X-Access-Token; /init without it only sets the clock', async () => {
    const set = await fetch(`${envd.base}/init`, {
      method: 'POST',
      body: JSON.stringify({ accessToken: 's3cret', defaultUser: 'root', defaultWorkdir: envd.dir }),
    });
    assert.equal(set.status, 204);
    try {
      const denied = await fetch(url({ path: '/etc/hostname' }));
      assert.equal(denied.status, 401);
      assert.match(((await denied.json()) as { message: string }).message, /access token/);
      assert.equal(
        (await fetch(`${envd.base}/envs`, { headers: { 'x-access-token': 'wrong' } })).status,
        401,
      );
      assert.equal((await fetch(`${envd.base}/health`)).status, 204);
      await assert.rejects(
        envd.filesystem().stat({ path: '/' }),
        (err: unknown) => err instanceof ConnectError && err.code === Code.Unauthenticated,
      );
      await assert.rejects(
        envd.process().list({}),
        (err: unknown) => err instanceof ConnectError && err.code === Code.Unauthenticated,
      );
      // The defaults apply: no user named -> root, empty path -> the default workdir.
      assert.equal((await envd.filesystem(undefined, 's3cret').stat({ path: '' })).entry?.path, envd.dir);
      const clockOnly = await fetch(`${envd.base}/init`, {
        method: 'POST',
        body: JSON.stringify({ timestamp: new Date().toISOString() }),
      });
      assert.equal(clockOnly.status, 204);
      const takeover = await fetch(`${envd.base}/init`, {
        method: 'POST',
        body: JSON.stringify({ accessToken: '' }),
      });
      assert.equal(takeover.status, 401);
    } finally {
      const reset = await fetch(`${envd.base}/init`, {
        method: 'POST',
        headers: { 'x-access-token': 's3cret' },
        body: JSON.stringify({ accessToken: '', defaultUser: 'user', defaultWorkdir: '' }),
      });
      assert.equal(reset.status, 204);
    }
    assert.equal((await fetch(`${envd.base}/envs`)).status, 200);
    const badUser = await fetch(`${envd.base}/init`, {
      method: 'POST',
      body: JSON.stringify({ defaultUser: 'ghost' }),
    });
    assert.equal(badUser.status, 400);
  });
});
