// The real `amber` binary against a real instance it starts itself (`amber up --port 0` in a temp home):
// real control plane, host agent and VMs. One sandbox carries most checks: every VM costs seconds on TCG.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/amber.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('amber CLI against a real instance', { timeout: 25 * 60_000 }, () => {
  let home: string;
  let shmDir: string;
  let id = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AMBER_URL;
  delete env.AMBER_API_KEY;

  function amber(args: string[], input?: string | Buffer): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', reject);
      child.on('close', (code) =>
        resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }),
      );
      child.stdin.end(input);
    });
  }

  async function ok(args: string[], input?: string | Buffer): Promise<string> {
    const r = await amber(args, input);
    assert.equal(r.code, 0, `amber ${args.join(' ')} -> ${r.code}\n${r.stderr}`);
    return r.stdout;
  }

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'amber-cli-e2e-'));
    env.AMBER_HOME = home;
    // Guest RAM in a directory of our own: other trees' agents sweep /dev/shm's top level when they start.
    shmDir = await mkdtemp('/dev/shm/amber-cli-e2e-');
    env.AMBER_SHM_DIR = shmDir;
  });

  after(async () => {
    if (home) {
      await amber(['down', '--home', home]);
      await rm(home, { recursive: true, force: true });
      await rm(shmDir, { recursive: true, force: true });
    }
  });

  it('up starts the API in the background, prints its URL and writes a 0600 key', async () => {
    const out = await ok(['up', '--home', home, '--port', '0']);
    const url = (await readFile(join(home, 'url'), 'utf8')).trim();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(out.includes(url), out);
    assert.equal((await stat(join(home, 'api-key'))).mode & 0o777, 0o600);
    assert.match(await ok(['up', '--home', home]), /already running/);
  });

  it('sandbox create prints an id that ls --json and get show', async () => {
    id = (await ok(['sandbox', 'create', '--metadata', 'suite=cli-e2e'])).trim();
    assert.match(id, /^\S+$/);
    const list = JSON.parse(await ok(['sandbox', 'ls', '--json', '--metadata', 'suite=cli-e2e'])) as {
      id: string;
    }[];
    assert.deepEqual(
      list.map((s) => s.id),
      [id],
    );
    const table = await ok(['sandbox', 'ls']);
    assert.match(table, /^ID\s+STATE/);
    assert.match(table, new RegExp(`${id}\\s+running`));
    assert.match(await ok(['sandbox', 'get', id]), /state\s+running/);
  });

  it('exec streams stdout and stderr, forwards stdin and propagates the exit code', async () => {
    const r = await amber(['exec', id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [5, 'out\n', 'err\n']);
    assert.equal(await ok(['exec', id, '--', 'wc', '-c'], 'x'.repeat(100_000)), '100000\n');
    assert.equal(
      await ok(['exec', '--cwd', '/tmp', '-e', 'A=b', id, '--', 'sh', '-c', 'echo $A $(pwd)']),
      'b /tmp\n',
    );
    const missing = await amber(['exec', 'no-such-sandbox', '--', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[not_found\]/);
    // As a shell says it: 127 for a program that is not there, 126 for one that cannot be run.
    const notThere = await amber(['exec', id, '--', 'no-such-program-here']);
    assert.equal(notThere.code, 127);
    assert.match(notThere.stderr, /\[invalid_state\] cannot run no-such-program-here: .*ENOENT/);
    assert.equal((await amber(['exec', id, '--', '/etc/hostname'])).code, 126);
  });

  it('shell gives an interactive terminal of the local size (under script(1) for a real pty)', async () => {
    const cmd = `stty cols 90 rows 20; exec ${process.execPath} ${BIN} shell ${id}`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 600 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, re);
    };
    try {
      await until(/[#$] $/m);
      // Raw mode: Enter arrives as \r and the guest's line discipline makes it a newline.
      child.stdin.write('stty size; echo $((6*7))\r');
      await until(/^42\r?$/m);
      assert.match(out, /^20 90\r?$/m);
      child.stdin.write('exit 4\r');
      assert.equal(await closed, 4);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('cp copies a file in and out, byte for byte', async () => {
    const local = join(home, 'in.bin');
    const data = randomBytes(5 << 20);
    await writeFile(local, data);
    await ok(['cp', local, `${id}:/tmp/in.bin`]);
    assert.equal(await ok(['exec', id, '--', 'stat', '-c', '%s', '/tmp/in.bin']), `${data.length}\n`);
    const back = join(home, 'out.bin');
    await ok(['cp', `${id}:/tmp/in.bin`, back]);
    assert.ok((await readFile(back)).equals(data));
    assert.equal(await ok(['cp', '-', `${id}:/tmp/piped.txt`], 'piped\n'), '');
    assert.equal(await ok(['cp', `${id}:/tmp/piped.txt`, '-']), 'piped\n');
  });

  it('pause and resume keep the files', async () => {
    await ok(['exec', id, '--', 'sh', '-c', 'echo kept > /tmp/kept']);
    assert.equal(
      (JSON.parse(await ok(['sandbox', 'pause', id, '--json'])) as { state: string }).state,
      'paused',
    );
    const refused = await amber(['exec', id, '--', 'true']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\[invalid_state\].*paused/);
    assert.match(await ok(['sandbox', 'resume', id]), /state\s+running/);
    assert.equal(await ok(['exec', id, '--', 'cat', '/tmp/kept']), 'kept\n');
  });

  it('snapshot create, a sandbox from it, fork, snapshot ls and rm', async () => {
    const name = `cli-e2e-${process.pid}`;
    assert.equal((await ok(['snapshot', 'create', id, name])).trim(), name);
    // Its row shows the memory data and the disk it holds, both measured (not the "-" of unknown).
    const row = new RegExp(`^${name}\\s+1\\s+\\d+ MB\\s+[\\d.]+ [KMG]iB\\s+[\\d.]+ [KMG]iB\\s+${id}\\s`, 'm');
    assert.match(await ok(['snapshot', 'ls']), row);
    const spawned = (await ok(['sandbox', 'create', '--template', name])).trim();
    assert.equal(await ok(['exec', spawned, '--', 'cat', '/tmp/kept']), 'kept\n');
    const forks = (await ok(['sandbox', 'fork', id, '-n', '2'])).trim().split('\n');
    assert.equal(forks.length, 2);
    for (const f of forks) assert.equal(await ok(['exec', f, '--', 'cat', '/tmp/kept']), 'kept\n');
    await ok(['sandbox', 'rm', spawned, ...forks]);
    await ok(['snapshot', 'rm', name]);
    assert.doesNotMatch(await ok(['snapshot', 'ls']), new RegExp(`^${name}\\s`, 'm'));
  });

  it('keys create prints a working key once; ls lists it; rm revokes it', async () => {
    const created = JSON.parse(await ok(['keys', 'create', 'cli-e2e', '--json'])) as {
      id: string;
      key: string;
    };
    assert.match(created.key, /^e2b_/);
    assert.match(await ok(['keys', 'ls']), new RegExp(created.id));
    const withKey = { ...env, AMBER_API_KEY: created.key };
    const viaKey = await new Promise<number | null>((resolve) =>
      spawn(process.execPath, [BIN, 'sandbox', 'ls'], { env: withKey, stdio: 'ignore' }).on('close', resolve),
    );
    assert.equal(viaKey, 0);
    await ok(['keys', 'rm', created.id]);
    const revoked = await new Promise<number | null>((resolve) =>
      spawn(process.execPath, [BIN, 'sandbox', 'ls'], { env: withKey, stdio: 'ignore' }).on('close', resolve),
    );
    assert.equal(revoked, 1);
  });

  it('rm destroys the sandbox; down stops Amber', async () => {
    await ok(['sandbox', 'rm', id]);
    assert.match((await amber(['sandbox', 'get', id])).stderr, /\[not_found\]/);
    const pid = Number((await readFile(join(home, 'amber.pid'), 'utf8')).trim());
    assert.match(await ok(['down', '--home', home]), /stopped/);
    assert.throws(() => process.kill(pid, 0));
    await assert.rejects(stat(join(home, 'url')));
    assert.match(await ok(['down', '--home', home]), /not running/);
  });

  it('a stop signalled the moment the pid file appears still stops cleanly', async () => {
    const child = spawn(process.execPath, [BIN, 'up', '--foreground', '--home', home, '--port', '0'], {
      env,
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    // What `amber down` does, as early as it can: it signals whatever pid the file names.
    while (!existsSync(join(home, 'amber.pid'))) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, 'it stopped itself, not died of the signal');
    assert.equal(existsSync(join(home, 'amber.pid')), false, 'and removed its pid file');
  });
});
