// The CLI's low-level commands run as a person would run them (a child process each): `amber agent` in
// the foreground, served over its socket and stopped by Ctrl-C or SIGTERM; `amber image ls / prune
// --dry-run` and `amber doctor` on this machine. No sandbox VM: graceful-stop.test.ts covers what a
// stop does to running sandboxes; here the CLI's part is its flags, its signal handling and its output.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureImage } from '@amber/image';
import { connectHostAgent } from './rpc/client.js';
import { agentLeftovers, removeAgentLeftovers } from './test-support/leftovers.js';

const cliMain = fileURLToPath(new URL('../../cli/src/main.ts', import.meta.url));

let work: string;
let home: string;
let shmDir: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'amber-cli-low-'));
  home = join(work, 'home');
  shmDir = await mkdtemp('/dev/shm/amber-cli-low-');
  const { NODE_TEST_CONTEXT: _context, AMBER_AGENT_TOKEN: _token, ...rest } = process.env;
  env = { ...rest, AMBER_HOME: home, AMBER_SHM_DIR: shmDir, AMBER_LOG_LEVEL: 'silent' };
});
after(async () => {
  await removeAgentLeftovers(home, shmDir);
  await rm(work, { recursive: true, force: true });
  await rm(shmDir, { recursive: true, force: true });
});

function amberChild(args: string[]): ChildProcess & { output: () => string } {
  const child = spawn(
    process.execPath,
    [
      '--conditions=amber-source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { main } = await import(${JSON.stringify(cliMain)}); await main(process.argv);`,
      'amber',
      ...args,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return Object.assign(child, { output: () => output });
}

async function amber(...args: string[]): Promise<{ code: number | null; out: string }> {
  const child = amberChild(args);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  return { code, out: child.output() };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Starts `amber agent` and waits until it answers on its socket. */
async function startAgentCli(socket: string) {
  const child = amberChild(['agent', '--home', home, '--listen', `unix:${socket}`]);
  const gone = exited(child);
  let ended = false;
  void gone.then(() => {
    ended = true;
  });
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (ended) throw new Error(`amber agent exited during start:\n${child.output()}`);
    if (existsSync(socket)) {
      const connection = connectHostAgent(`unix:${socket}`);
      try {
        const listed = await connection.client.listSandboxes({});
        return { child, gone, connection, listed };
      } catch (err) {
        connection.close();
        if (Date.now() > deadline) throw err;
      }
    }
    if (Date.now() > deadline) throw new Error(`amber agent never answered:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the CLI low-level commands', { timeout: 900_000 }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`amber agent serves its socket under --home, and ${signal} stops it leaving nothing`, async (t) => {
      const socket = join(work, `agent-${signal}.sock`);
      const agent = await startAgentCli(socket);
      t.after(() => agent.child.kill('SIGKILL'));
      assert.deepEqual(agent.listed.sandboxes, []);
      // With SIGTERM the client stays connected, as `amber down` finds a control plane or a dashboard: its
      // idle session kept the process alive ~30 s after the agent had stopped.
      if (signal === 'SIGINT') agent.connection.close();
      t.after(() => agent.connection.close());
      agent.child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        agent.gone,
        new Promise((r) => {
          timer = setTimeout(r, 15_000, 'still running 15 s after the signal');
        }),
      ]);
      clearTimeout(timer);
      assert.deepEqual(exit, { code: 0, signal: null }, agent.child.output());
      // Its pooled QEMU, namespaces and RAM files went with it (QEMU runs in its own process group, so
      // a Ctrl-C reaches only the agent, which must end them itself).
      assert.deepEqual(agentLeftovers(home, shmDir), []);
      assert.equal(existsSync(socket), false, 'the socket is removed');
    });
  }

  test('amber image ls / prune --dry-run and amber doctor', async () => {
    const { image } = await ensureImage();
    const ls = await amber('image', 'ls', '--json');
    assert.equal(ls.code, 0, ls.out);
    const rows = JSON.parse(ls.out) as Array<Record<string, unknown>>;
    assert.deepEqual(
      rows.find((r) => r.id === image.id),
      {
        id: image.id,
        dir: image.dir,
        ok: true,
        createdAt: image.manifest.createdAt,
        kernelRelease: image.manifest.kernelRelease,
      },
    );

    const prune = await amber('image', 'prune', '--dry-run', '--min-age-hours', '0');
    assert.equal(prune.code, 0, prune.out);
    assert.match(prune.out, new RegExp(`^keep    image ${image.id}  \\(the current image\\)$`, 'm'));
    assert.match(prune.out, /^\d+ item\(s\) to remove\n$/m);
    assert.ok(existsSync(image.dir), 'a dry run removes nothing');

    const doctor = await amber('doctor', '--json');
    const checks = JSON.parse(doctor.out) as Array<{ name: string; status: string; detail: string }>;
    for (const name of ['qemu', 'kvm', 'userfaultfd', 'memory', 'cgroups', 'nftables'])
      assert.ok(
        checks.some((c) => c.name === name),
        `doctor checks ${name}: ${doctor.out}`,
      );
    assert.equal(checks.find((c) => c.name === 'userfaultfd')?.status, 'ok', doctor.out);
    assert.equal(doctor.code, checks.some((c) => c.status === 'fail') ? 1 : 0, doctor.out);
  });
});
