import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import {
  ALL_TRAFFIC,
  AuthenticationError,
  CommandExitError,
  type FilesystemEventType,
  Sandbox,
  SandboxError,
  SandboxNotFoundError,
  TimeoutError,
  Volume,
} from 'e2b';
import { type Harness, startHarness } from '../test-support/harness.js';

// The published e2b SDK, configured by environment variables alone, against a real Amber with real VMs.
// One sandbox carries most checks: VMs are slow on this (emulating) machine. Network rules: e2b-network.test.ts.

const MIN = 60_000;
/**
 * The SDK aborts a REST call after 60 s by default; a create, resume or snapshot on this shared emulating
 * machine can take longer, so lifecycle calls get more (users on slow hosts pass it the same way).
 */
const slow = { requestTimeoutMs: 10 * MIN };
let h: Harness;
let sbx: Sandbox;

before(async () => {
  // AMBER_E2B_TEST_HOME: reuse a home whose built-in base is already made (a cold boot of the base can
  // miss the agent's boot deadline when the machine is saturated); default: a fresh home.
  const home = process.env.AMBER_E2B_TEST_HOME;
  h = await startHarness(home ? { home, agentConfig: { home, listen: `unix:${home}/agent.sock` } } : {});
  process.env.E2B_API_URL = `${h.cp.url}/e2b`;
  process.env.E2B_SANDBOX_URL = `${h.cp.url}/e2b/envd`;
  process.env.E2B_API_KEY = h.cp.apiKey;
  process.env.E2B_DOMAIN = `localhost:${h.cp.port}`;
  // The built-in base is booted and frozen once per home; do it before the SDK's first create.
  const warm = await h.call('POST', '/v1/sandboxes', { body: { timeoutSec: 120 } });
  assert.equal(warm.status, 201, warm.text);
  await h.call('DELETE', `/v1/sandboxes/${warm.json.id}`);
});

after(async () => {
  await h?.stop();
});

/** fetch() replaces the Host header; node:http sends the one given, as a browser would for that name. */
function getWithHost(port: number, path: string, host: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const rejects = async (promise: Promise<unknown>, type: new (...args: never[]) => Error) => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
  return err as Error;
};

test('Sandbox.create with metadata, envs, timeout and lifecycle', { timeout: 10 * MIN }, async () => {
  sbx = await Sandbox.create({
    metadata: { suite: 'e2b-sdk', n: '1' },
    envs: { GREETING: 'hello from create' },
    timeoutMs: 600_000,
    lifecycle: { onTimeout: 'pause', autoResume: true },
    ...slow,
  });
  assert.match(sbx.sandboxId, /^[a-z0-9]{20}$/);
  const info = await sbx.getInfo();
  assert.equal(info.state, 'running');
  assert.equal(info.templateId, 'base');
  assert.deepEqual(info.metadata, { suite: 'e2b-sdk', n: '1' });
  const lifetime = info.endAt.getTime() - info.startedAt.getTime();
  assert.ok(Math.abs(lifetime - 600_000) < 10_000, `lifetime ${lifetime} ms`);
});

test('commands.run: output, envs, cwd, user, callbacks and exit codes', { timeout: 5 * MIN }, async () => {
  const hello = await sbx.commands.run('echo "$GREETING"');
  assert.equal(hello.exitCode, 0);
  assert.equal(hello.stdout, 'hello from create\n');
  const env = await sbx.commands.run('echo "$A-$GREETING"', { envs: { A: 'x', GREETING: 'over' } });
  assert.equal(env.stdout, 'x-over\n');
  assert.equal((await sbx.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
  assert.equal((await sbx.commands.run('whoami')).stdout, 'user\n');
  assert.equal((await sbx.commands.run('whoami', { user: 'root' })).stdout, 'root\n');
  const out: string[] = [];
  const err: string[] = [];
  const both = await sbx.commands.run('echo out; echo err >&2', {
    onStdout: (d) => void out.push(d),
    onStderr: (d) => void err.push(d),
  });
  assert.equal(out.join(''), 'out\n');
  assert.equal(err.join(''), 'err\n');
  assert.equal(both.stderr, 'err\n');
  const failed = (await rejects(
    sbx.commands.run('echo partial; exit 3'),
    CommandExitError,
  )) as CommandExitError;
  assert.equal(failed.exitCode, 3);
  // As E2B's envd reports it (Go's exec error), so the SDK's error has a message.
  assert.equal(failed.message, 'exit status 3');
  assert.equal(failed.stdout, 'partial\n');
});

test('commands: background, list, connect, sendStdin, kill', { timeout: 5 * MIN }, async () => {
  const seen: string[] = [];
  const cat = await sbx.commands.run('cat', {
    background: true,
    stdin: true,
    onStdout: (d) => void seen.push(d),
  });
  assert.ok(cat.pid > 0);
  const listed = await sbx.commands.list();
  assert.ok(
    listed.some((p) => p.pid === cat.pid && p.cmd === '/bin/bash'),
    JSON.stringify(listed),
  );
  await sbx.commands.sendStdin(cat.pid, 'through stdin\n');
  const deadline = Date.now() + MIN;
  while (!seen.join('').includes('through stdin') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(seen.join(''), 'through stdin\n');
  // A second client attaches to the same process.
  const attached: string[] = [];
  const again = await sbx.commands.connect(cat.pid, { onStdout: (d) => void attached.push(d) });
  await sbx.commands.sendStdin(cat.pid, 'second\n');
  while (!attached.join('').includes('second') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  assert.ok(attached.join('').includes('second'));
  await again.disconnect();
  assert.equal(await sbx.commands.kill(cat.pid), true);
  const killed = (await rejects(cat.wait(), CommandExitError)) as CommandExitError;
  assert.equal(killed.message, 'signal: killed', "Go's words, as E2B's envd says it");
  assert.equal(await sbx.commands.kill(cat.pid), false);
});

test('commands.run of `cmd &` returns with the shell, and the child runs on', {
  timeout: 5 * MIN,
}, async () => {
  // The child holds the command's stdout; E2B's envd ends the command with its own process all the same.
  const started = await sbx.commands.run('sleep 600 & echo $!', { timeoutMs: 30_000 });
  const pid = started.stdout.trim();
  assert.match(pid, /^\d+$/);
  assert.equal((await sbx.commands.run(`kill -0 ${pid} && echo alive`)).stdout, 'alive\n');
  await sbx.commands.run(`kill ${pid}`);
});

test('pty: create, sendInput, resize, kill', { timeout: 5 * MIN }, async () => {
  const chunks: Buffer[] = [];
  const pty = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => void chunks.push(Buffer.from(d)) });
  await sbx.pty.resize(pty.pid, { cols: 100, rows: 30 });
  await sbx.pty.sendInput(pty.pid, new TextEncoder().encode('stty size; echo pty-$((6*7))\n'));
  const deadline = Date.now() + 2 * MIN;
  while (!Buffer.concat(chunks).toString().includes('pty-42') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  const text = Buffer.concat(chunks).toString();
  assert.ok(text.includes('pty-42'), text);
  assert.ok(text.includes('30 100'), text);
  assert.equal(await sbx.pty.kill(pty.pid), true);
});

test('files: write, read, list, makeDir, rename, remove, exists, getInfo, a 3 MiB round trip', {
  timeout: 5 * MIN,
}, async () => {
  const info = await sbx.files.write('/home/user/notes.txt', 'first line\n');
  assert.equal(info.path, '/home/user/notes.txt');
  assert.equal(await sbx.files.read('/home/user/notes.txt'), 'first line\n');
  const bytes = await sbx.files.read('/home/user/notes.txt', { format: 'bytes' });
  assert.equal(Buffer.from(bytes).toString(), 'first line\n');
  assert.equal(await sbx.files.makeDir('/home/user/dir'), true);
  assert.equal(await sbx.files.makeDir('/home/user/dir'), false);
  // The many-files form (one multipart request, each part named by its path).
  const many = await sbx.files.write([
    { path: '/home/user/m1.txt', data: 'one' },
    { path: '/home/user/m2.txt', data: 'two' },
  ]);
  assert.equal(many.length, 2);
  assert.equal(await sbx.files.read('/home/user/m2.txt'), 'two');
  await sbx.files.write('/home/user/dir/a.txt', 'a');
  await sbx.files.write('/home/user/dir/b.txt', 'bb');
  const names = (await sbx.files.list('/home/user/dir')).map((e) => e.name).sort();
  assert.deepEqual(names, ['a.txt', 'b.txt']);
  const moved = await sbx.files.rename('/home/user/dir/a.txt', '/home/user/dir/c.txt');
  assert.equal(moved.name, 'c.txt');
  assert.equal(await sbx.files.exists('/home/user/dir/a.txt'), false);
  assert.equal(await sbx.files.exists('/home/user/dir/c.txt'), true);
  const stat = await sbx.files.getInfo('/home/user/dir/b.txt');
  assert.equal(stat.size, 2);
  assert.equal(stat.type, 'file');
  await sbx.files.remove('/home/user/dir/c.txt');
  assert.equal(await sbx.files.exists('/home/user/dir/c.txt'), false);

  // A larger upload and download stream through the proxy unchanged.
  const big = Buffer.alloc(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  await sbx.files.write('/tmp/big.bin', big.buffer.slice(big.byteOffset, big.byteOffset + big.length));
  const back = Buffer.from(await sbx.files.read('/tmp/big.bin', { format: 'bytes' }));
  assert.ok(back.equals(big), 'the 3 MiB file came back changed');
});

test('uploadUrl and downloadUrl: pre-signed, for one file and one direction, until they expire', {
  timeout: 5 * MIN,
}, async () => {
  // What a browser would do with them: no key, no token, no sandbox header.
  const upload = await sbx.uploadUrl('/home/user/via-url.txt');
  const form = new FormData();
  form.append('file', new Blob(['sent through a signed URL\n']), 'via-url.txt');
  const put = await fetch(upload, { method: 'POST', body: form });
  assert.equal(put.status, 200, await put.clone().text());
  assert.equal(((await put.json()) as Array<{ path: string }>)[0]?.path, '/home/user/via-url.txt');
  assert.equal(await sbx.files.read('/home/user/via-url.txt'), 'sent through a signed URL\n');

  const download = await sbx.downloadUrl('/home/user/via-url.txt', { useSignatureExpiration: 60 });
  const got = await fetch(download);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), 'sent through a signed URL\n');

  const refused = async (url: string | URL, init?: RequestInit) => (await fetch(url, init)).status;
  // The upload URL does not download, nor does a signature reach another path.
  assert.equal(await refused(upload), 401);
  const other = new URL(download);
  other.searchParams.set('path', '/etc/shadow');
  assert.equal(await refused(other), 401);
  const expired = await sbx.downloadUrl('/home/user/via-url.txt', { useSignatureExpiration: -5 });
  assert.equal(await refused(expired), 401);
});

test('git: init, add, commit, branches, status, a local clone', { timeout: 5 * MIN }, async () => {
  const repo = '/home/user/repo';
  await sbx.git.init(repo);
  await sbx.files.write(`${repo}/a.txt`, 'hello');
  assert.equal((await sbx.git.status(repo)).hasUntracked, true);
  await sbx.git.add(repo, { all: true });
  await sbx.git.commit(repo, 'first', { authorName: 'Amber Test', authorEmail: 'test@example.invalid' });
  await sbx.git.createBranch(repo, 'feature');
  const status = await sbx.git.status(repo);
  assert.deepEqual(
    { branch: status.currentBranch, clean: status.isClean },
    { branch: 'feature', clean: true },
  );
  assert.deepEqual((await sbx.git.branches(repo)).branches.sort(), ['feature', 'master']);
  await sbx.git.clone(repo, { path: '/home/user/copy' });
  assert.equal(await sbx.files.read('/home/user/copy/a.txt'), 'hello');
});

test('files.write of many files into new subdirectories: parents created, owned by the user', {
  timeout: 5 * MIN,
}, async () => {
  // One multipart request whose parts are named by their paths (absolute and relative to the home).
  const written = await sbx.files.write([
    { path: '/home/user/tree/a/one.txt', data: 'one' },
    { path: '/home/user/tree/b/c/two.txt', data: 'two' },
    { path: 'tree/rel.txt', data: 'rel' },
  ]);
  assert.deepEqual(
    written.map((w) => w.path),
    ['/home/user/tree/a/one.txt', '/home/user/tree/b/c/two.txt', '/home/user/tree/rel.txt'],
  );
  const tree = await sbx.files.list('/home/user/tree', { depth: 3 });
  assert.deepEqual(
    tree.map((e) => [e.path.slice('/home/user/tree/'.length), e.type, e.owner, e.group, e.size]),
    [
      ['a', 'dir', 'user', 'user', 4096],
      ['a/one.txt', 'file', 'user', 'user', 3],
      ['b', 'dir', 'user', 'user', 4096],
      ['b/c', 'dir', 'user', 'user', 4096],
      ['b/c/two.txt', 'file', 'user', 'user', 3],
      ['rel.txt', 'file', 'user', 'user', 3],
    ],
  );
  assert.equal(await sbx.files.read('/home/user/tree/b/c/two.txt'), 'two');
  // As root, the new parents are root's.
  await sbx.files.write([{ path: '/opt/made/by/root.txt', data: 'r' }], { user: 'root' });
  assert.equal((await sbx.files.getInfo('/opt/made/by')).owner, 'root');
});

test('file metadata: kept on write, returned by getInfo and list', { timeout: 5 * MIN }, async () => {
  const metadata = { owner: 'team-a', stage: 'draft' };
  const written = await sbx.files.write('/home/user/meta/report.txt', 'data', { metadata });
  assert.deepEqual(written.metadata, metadata);
  assert.deepEqual((await sbx.files.getInfo('/home/user/meta/report.txt')).metadata, metadata);
  // The many-files form applies the same metadata to every file.
  await sbx.files.write(
    [
      { path: '/home/user/meta/x.txt', data: 'x' },
      { path: '/home/user/meta/y.txt', data: 'y' },
    ],
    { metadata: { batch: '7' } },
  );
  await sbx.files.write('/home/user/meta/plain.txt', 'no metadata');
  const listed = await sbx.files.list('/home/user/meta');
  assert.deepEqual(
    listed.map((e) => [e.name, e.metadata]),
    [
      ['plain.txt', undefined],
      ['report.txt', metadata],
      ['x.txt', { batch: '7' }],
      ['y.txt', { batch: '7' }],
    ],
  );
  // Rewriting a file without metadata replaces it, metadata included (the file is new).
  await sbx.files.write('/home/user/meta/report.txt', 'v2');
  assert.equal((await sbx.files.getInfo('/home/user/meta/report.txt')).metadata, undefined);
});

test('files.watchDir', { timeout: 5 * MIN }, async () => {
  await sbx.files.makeDir('/home/user/watched');
  const events: Array<{ name: string; type: FilesystemEventType }> = [];
  const watch = await sbx.files.watchDir('/home/user/watched', (e) => void events.push(e), {
    recursive: true,
  });
  await sbx.files.write('/home/user/watched/new.txt', 'x');
  const deadline = Date.now() + MIN;
  while (!events.some((e) => e.name === 'new.txt') && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  await watch.stop();
  assert.ok(
    events.some((e) => e.name === 'new.txt'),
    JSON.stringify(events),
  );
});

test('setTimeout, getMetrics, Sandbox.list filters', { timeout: 5 * MIN }, async () => {
  // A command streaming its output while the timeout changes, and another request comes through the proxy.
  const running = await sbx.commands.run('echo early; sleep 2; echo late', { background: true });
  await sbx.setTimeout(900_000);
  assert.equal(await sbx.files.exists('/tmp'), true);
  const done = await running.wait();
  assert.equal(done.stdout, 'early\nlate\n');
  const info = await sbx.getInfo();
  assert.ok(info.endAt.getTime() - Date.now() > 800_000);
  const metrics = await sbx.getMetrics();
  assert.ok(metrics.length >= 1);
  assert.ok((metrics[0]?.memTotal ?? 0) > 0);
  const mine = await Sandbox.list({ query: { metadata: { suite: 'e2b-sdk' } } }).nextItems();
  assert.deepEqual(
    mine.map((s) => s.sandboxId),
    [sbx.sandboxId],
  );
  const none = await Sandbox.list({ query: { metadata: { suite: 'other' } } }).nextItems();
  assert.equal(none.length, 0);
  const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
  assert.ok(!paused.some((s) => s.sandboxId === sbx.sandboxId));
});

test('20 concurrent commands.run through the proxy', { timeout: 10 * MIN }, async () => {
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => sbx.commands.run(`echo run-${i}`, { timeoutMs: 0 })),
  );
  for (const [i, r] of results.entries()) assert.equal(r.stdout, `run-${i}\n`);
});

test('getHost reaches an HTTP server in the guest', { timeout: 5 * MIN }, async () => {
  await sbx.commands.run(
    `node -e "require('http').createServer((q,s)=>s.end('guest says '+q.url)).listen(8080)"`,
    { background: true },
  );
  const host = sbx.getHost(8080);
  assert.equal(host, `8080-${sbx.sandboxId}.localhost:${h.cp.port}`);
  // *.localhost does not resolve in Node here: dial the listener with the Host header a browser would send.
  let text = '';
  const deadline = Date.now() + 2 * MIN;
  while (Date.now() < deadline) {
    const res = await getWithHost(h.cp.port, '/hello?x=1', host).catch(() => undefined);
    if (res?.status === 200) {
      text = res.text;
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(text, 'guest says /hello?x=1');
});

test('errors: command timeout, wrong key, wrong access token, unsupported options', {
  timeout: 5 * MIN,
}, async () => {
  await rejects(sbx.commands.run('sleep 30', { timeoutMs: 2000 }), TimeoutError);
  await rejects(Sandbox.list({ apiKey: `e2b_${'0'.repeat(40)}` }).nextItems(), AuthenticationError);
  await rejects(Sandbox.connect(sbx.sandboxId, { apiKey: 'not-a-key' }), AuthenticationError);
  const res = await fetch(`${h.cp.url}/e2b/envd/filesystem.Filesystem/Stat`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'e2b-sandbox-id': sbx.sandboxId,
      'e2b-sandbox-port': '49983',
      'x-access-token': 'wrong',
    },
    body: JSON.stringify({ path: '/' }),
  });
  assert.equal(res.status, 401);
  const domain = Sandbox.create({ network: { allowOut: ['example.com'], denyOut: [ALL_TRAFFIC] } });
  const net = await rejects(domain, SandboxError);
  assert.match(net.message, /^400: network\.allowOut: example\.com: domain names are not supported by Amber/);
  const vol = await rejects(Volume.create('v1'), Error);
  assert.match(vol.message, /volumes is not supported by Amber/);
});

let marker = 0;
test('pause, then Sandbox.connect resumes: files and a background process survive', {
  timeout: 10 * MIN,
}, async () => {
  await sbx.files.write('/home/user/before-pause.txt', 'still here');
  const bg = await sbx.commands.run('sleep 100000', { background: true });
  marker = bg.pid;
  assert.equal(await sbx.pause(slow), true);
  assert.equal(await Sandbox.pause(sbx.sandboxId, slow), false); // already paused: E2B's 409
  const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
  assert.ok(paused.some((s) => s.sandboxId === sbx.sandboxId));
  const again = await Sandbox.connect(sbx.sandboxId, slow);
  assert.equal((await again.getInfo()).state, 'running');
  assert.equal(await again.files.read('/home/user/before-pause.txt'), 'still here');
  assert.ok((await again.commands.list()).some((p) => p.pid === marker));
  sbx = again;
});

test('a pause ends the streams in flight (as on E2B) instead of leaving them waiting', {
  timeout: 10 * MIN,
}, async () => {
  // Not auto-resumed: the SDK probes the sandbox when a stream breaks, which would resume it.
  const other = await Sandbox.create({ timeoutMs: 5 * MIN, ...slow });
  const bg = await other.commands.run('sleep 100000', { background: true, timeoutMs: 0 });
  const ended = bg.wait().then(
    () => 'exited',
    (err: Error) => err.message,
  );
  assert.equal(await other.pause(slow), true);
  const stillWaiting = new Promise((r) => setTimeout(() => r('still waiting'), 20_000).unref());
  assert.match(String(await Promise.race([ended, stillWaiting])), /terminated/);
  await other.kill();
});

test('auto-resume: a request to a paused sandbox resumes it', { timeout: 10 * MIN }, async () => {
  assert.equal(await sbx.pause(slow), true);
  assert.equal((await sbx.getInfo()).state, 'paused');
  const r = await sbx.commands.run('cat /home/user/before-pause.txt', { ...slow, timeoutMs: 10 * MIN });
  assert.equal(r.stdout, 'still here');
  assert.equal((await sbx.getInfo()).state, 'running');
});

let snapshotId = '';
test('snapshots: create, spawn from it, list, fork a paused sandbox, delete', {
  timeout: 15 * MIN,
}, async () => {
  const snap = await sbx.createSnapshot({ name: 'e2b-snap', ...slow });
  snapshotId = snap.snapshotId;
  assert.equal(snapshotId, 'e2b-snap');
  const listed = await Sandbox.listSnapshots({ sandboxId: sbx.sandboxId }).nextItems();
  assert.ok(listed.some((s) => s.snapshotId === snapshotId));
  const child = await Sandbox.create(snapshotId, { timeoutMs: 300_000, ...slow });
  try {
    assert.equal(await child.files.read('/home/user/before-pause.txt'), 'still here');
    // Without auto-resume a paused sandbox is "not running" to the proxy.
    assert.equal(await child.pause(slow), true);
    assert.equal(await child.isRunning(), false);
    await rejects(child.commands.run('true'), SandboxNotFoundError);
    const [fork] = await child.fork(slow);
    assert.ok(fork instanceof Sandbox, String(fork));
    try {
      assert.equal(await fork.files.read('/home/user/before-pause.txt'), 'still here');
    } finally {
      await fork.kill();
    }
  } finally {
    await child.kill();
  }
  assert.equal(await Sandbox.deleteSnapshot(snapshotId), true);
  assert.equal(await Sandbox.deleteSnapshot(snapshotId), false);
});

test('a stop (amber down) with a stream open: the stream ends, the sandbox comes back with its process', {
  timeout: 10 * MIN,
}, async () => {
  const bg = await sbx.commands.run('sleep 100000', { background: true, timeoutMs: 0 });
  const ended = bg.wait().then(
    () => 'exited',
    (err: Error) => err.message,
  );
  // The stop pauses every sandbox, which is what would end the stream: it must not wait for the stream.
  const restarted = h.restart({ port: h.cp.port }).then(() => 'restarted');
  const hung = new Promise((r) => setTimeout(() => r('the stop is still waiting'), 2 * MIN).unref());
  assert.equal(await Promise.race([restarted, hung]), 'restarted');
  assert.match(String(await ended), /terminated/);
  assert.ok((await sbx.commands.list()).some((p) => p.pid === bg.pid));
  await sbx.commands.kill(bg.pid);
});

test('kill: then the SDK sees not found everywhere', { timeout: 5 * MIN }, async () => {
  assert.equal(await sbx.kill(), true);
  assert.equal(await Sandbox.kill(sbx.sandboxId), false);
  await rejects(sbx.getInfo(), SandboxNotFoundError);
  await rejects(Sandbox.connect(sbx.sandboxId), SandboxNotFoundError);
  await rejects(sbx.commands.run('true'), SandboxNotFoundError);
  assert.equal(await sbx.isRunning(), false);
});
