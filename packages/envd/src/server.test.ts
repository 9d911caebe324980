import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestEnvd, type TestEnvd } from './test-envd.js';

let envd: TestEnvd;
let base: string;
let dir: string;
const client = () => envd.process('root');

before(async () => {
  envd = await startTestEnvd();
  base = envd.base;
  dir = envd.dir;
});
after(() => envd.close());

async function runProcess(
  cmd: string,
  args: string[],
  extra: { cwd?: string; envs?: Record<string, string> } = {},
) {
  let stdout = '';
  let stderr = '';
  let pid = 0;
  let end: { exitCode: number; exited: boolean; status: string; error?: string } | undefined;
  for await (const res of client().start({
    process: { cmd, args, envs: extra.envs ?? {}, ...(extra.cwd && { cwd: extra.cwd }) },
  })) {
    const event = res.event?.event;
    if (event?.case === 'start') pid = event.value.pid;
    if (event?.case === 'data' && event.value.output.case === 'stdout')
      stdout += Buffer.from(event.value.output.value).toString();
    if (event?.case === 'data' && event.value.output.case === 'stderr')
      stderr += Buffer.from(event.value.output.value).toString();
    if (event?.case === 'end') end = event.value;
  }
  return { stdout, stderr, pid, end };
}

describe('process.Process/Start', () => {
  test('streams stdout, stderr and the exit code', async () => {
    const r = await runProcess('sh', ['-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.ok(r.pid > 0);
    assert.deepEqual(
      { code: r.end?.exitCode, exited: r.end?.exited, status: r.end?.status, error: r.end?.error },
      { code: 3, exited: true, status: 'exit status 3', error: 'exit status 3' },
    );
  });

  test('applies env and cwd', async () => {
    const r = await runProcess('sh', ['-c', 'echo "$GREETING"; pwd'], {
      cwd: dir,
      envs: { GREETING: 'hi there' },
    });
    assert.equal(r.stdout, `hi there\n${dir}\n`);
  });

  test('a missing binary ends the stream with an error instead of hanging', async () => {
    const r = await runProcess('/definitely/not/here', []);
    assert.equal(r.end?.exited, false);
    assert.match(r.end?.status ?? '', /error/);
  });

  test('a command ends with its process, though a background child holds its output open', async () => {
    const started = performance.now();
    const r = await runProcess('sh', ['-c', 'sleep 30 & echo $!; echo done']);
    assert.ok(performance.now() - started < 10_000, 'the stream waited for the background child');
    const [child, done] = r.stdout.split('\n');
    assert.equal(done, 'done');
    assert.equal(r.end?.exitCode, 0);
    // The background child runs on; its later output is not an error for it.
    process.kill(Number(child), 0);
    process.kill(Number(child), 'SIGKILL');
  });

  test('all a command wrote before it exited arrives, though a background child holds the pipe', async () => {
    const r = await runProcess('sh', [
      '-c',
      'sleep 30 & echo $! >&2; head -c 3000000 /dev/zero | tr "\\0" a',
    ]);
    assert.equal(r.stdout.length, 3_000_000);
    assert.equal(r.end?.exitCode, 0);
    process.kill(Number(r.stderr.trim()), 'SIGKILL');
  });

  test('a running process is listed and can be killed', async () => {
    const c = client();
    const stream = c.start({ process: { cmd: 'sleep', args: ['30'], envs: {} }, tag: 'sleeper' });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    const pid = first.value?.event?.event.case === 'start' ? first.value.event.event.value.pid : 0;
    const listed = await c.list({});
    assert.ok(
      listed.processes.some((p) => p.pid === pid && p.tag === 'sleeper' && p.config?.cmd === 'sleep'),
    );
    await c.sendSignal({ process: { selector: { case: 'tag', value: 'sleeper' } }, signal: 9 });
    let end: { status: string } | undefined;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      if (next.value.event?.event.case === 'end') end = next.value.event.event.value;
    }
    assert.equal(end?.status, 'signal: killed');
  });
});

describe('HTTP routes', () => {
  test('GET /health answers 204', async () => {
    assert.equal((await fetch(`${base}/health`)).status, 204);
  });

  test('answers carry one Date header, of the current time', async () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const answers = [await fetch(`${base}/health`), await fetch(`${base}/envs`)];
    for (const res of answers) {
      const date = Date.parse(res.headers.get('date') ?? '');
      assert.ok(date >= before && date <= Date.now(), `Date ${res.headers.get('date')}`);
      assert.equal(res.headers.get('date')?.match(/, /g)?.length, 1, 'one Date header');
    }
  });

  test('a file round-trips through POST and GET /files byte for byte', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'nested/dir/blob.bin');
    const up = await fetch(`${base}/files?username=root&path=${encodeURIComponent(path)}`, {
      method: 'POST',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(up.status, 200);
    assert.deepEqual(await up.json(), [{ path, name: 'blob.bin', type: 'file' }]);
    const down = await fetch(`${base}/files?path=${encodeURIComponent(path)}`);
    const back = Buffer.from(await down.arrayBuffer());
    assert.equal(
      createHash('sha256').update(back).digest('hex'),
      createHash('sha256').update(data).digest('hex'),
    );
  });

  test('multipart uploads (as E2B SDKs send them) land at the path', async () => {
    const path = join(dir, 'multi.txt');
    const form = new FormData();
    form.append('file', new Blob(['hello multipart']), 'ignored-name.txt');
    const up = await fetch(`${base}/files?path=${encodeURIComponent(path)}`, { method: 'POST', body: form });
    assert.equal(up.status, 200);
    assert.equal(await readFile(path, 'utf8'), 'hello multipart');
  });

  test('errors are JSON with a code and a message', async () => {
    const missing = await fetch(`${base}/files?path=${encodeURIComponent(join(dir, 'nope'))}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys((await missing.json()) as object).sort(), ['code', 'message']);
    await writeFile(join(dir, 'f'), 'x');
    const noPath = await fetch(`${base}/files`);
    assert.equal(noPath.status, 400);
    const badUser = await fetch(`${base}/files?path=/etc/hostname&username=nosuchuser`);
    assert.equal(badUser.status, 401);
    const badInit = await fetch(`${base}/init`, { method: 'POST', body: '{"timestamp":"yesterday"}' });
    assert.equal(badInit.status, 400);
    const hugeInit = await fetch(`${base}/init`, { method: 'POST', body: `"${'x'.repeat(1 << 21)}"` });
    assert.equal(hugeInit.status, 413);
    assert.equal(((await hugeInit.json()) as { code: number }).code, 413);
  });

  test('POST /init env vars reach later processes', async () => {
    const res = await fetch(`${base}/init`, {
      method: 'POST',
      body: JSON.stringify({ envVars: { FROM_INIT: 'yes' } }),
    });
    assert.equal(res.status, 204);
    const r = await runProcess('sh', ['-c', 'echo $FROM_INIT']);
    assert.equal(r.stdout, 'yes\n');
  });

  test('POST /sync flushes through the kept shell, again and again', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${base}/sync`, { method: 'POST' });
      assert.equal(res.status, 204);
    }
    const wrongMethod = await fetch(`${base}/sync`);
    assert.equal(wrongMethod.status, 404);
  });
});
