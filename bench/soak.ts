// `npm run soak`: one sandbox through N pause/resume cycles on a real VM, with an agent restart (SIGTERM,
// which pauses it) every 10th cycle and an agent SIGKILL (the next agent adopts it running) every 25th. In the guest a process appends
// consecutive numbers to a file, and files of known sha256 sit on its disk. After every cycle the numbers
// have no gap or repeat, the writer is alive, and every file is byte-exact. Prints cycles, failures and
// p50/p99 pause and resume times (JSON lines). AMBER_SOAK_CYCLES sets N (default 1000; CI runs a few).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectHostAgent, type HostAgentClient } from '@amber/host-agent';
import { SandboxState } from '@amber/proto/hostagent';
import { percentile, progress, report } from './lib/report.js';

const CYCLES = Number(process.env.AMBER_SOAK_CYCLES ?? 1000);
const RESTART_EVERY = 10;
const KILL_EVERY = 25;
const cli = resolve(fileURLToPath(import.meta.url), '../../packages/cli/bin/amber.js');
const home = await mkdtemp(join(tmpdir(), 'amber-soak-'));
const socket = `unix:${join(home, 'agent.sock')}`;

interface Agent {
  child: ChildProcess;
  client: HostAgentClient;
  close(): void;
  exited: Promise<unknown>;
}

/** `amber agent` as a child on the soak's home; ready once it answers. */
async function startAgent(): Promise<Agent> {
  const log = openSync(join(home, 'agent.log'), 'a');
  const child = spawn(process.execPath, [cli, 'agent'], {
    env: {
      AMBER_BOOT_TIMEOUT_SECONDS: '300',
      ...process.env,
      AMBER_HOME: home,
      AMBER_AGENT_LISTEN: socket,
      AMBER_ALLOW_INTERNET: 'off',
    },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { client, close } = connectHostAgent(socket);
    try {
      await client.getHostInfo({}, { timeoutMs: 2000 });
      return { child, client, close, exited };
    } catch (err) {
      close();
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`the agent did not come up (see ${home}/agent.log): ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function exec(client: HostAgentClient, id: string, cmd: string, args: string[]): Promise<string> {
  let out = '';
  let code: number | undefined;
  for await (const res of client.exec({ sandboxId: id, cmd, args })) {
    if (res.event.case === 'stdout') out += Buffer.from(res.event.value).toString();
    if (res.event.case === 'exit') code = res.event.value.exitCode;
  }
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}`);
  return out;
}

async function writeFile(client: HostAgentClient, id: string, path: string, data: Buffer): Promise<void> {
  await client.writeFile(
    (async function* () {
      yield { part: { case: 'header' as const, value: { sandboxId: id, path } } };
      yield { part: { case: 'data' as const, value: data } };
    })(),
  );
}

/** 1..n with no gap or repeat; returns n. */
async function sequence(client: HostAgentClient, id: string): Promise<number> {
  const lines = (await exec(client, id, 'cat', ['/root/seq'])).split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    if (line !== String(i + 1)) throw new Error(`sequence broken at line ${i + 1}: "${line}"`);
  });
  return lines.length;
}

const files = Array.from({ length: 5 }, (_, i) => ({
  path: `/root/file-${i}.bin`,
  data: randomBytes(64 * 1024 * (i + 1)),
}));
const sums = new Map(files.map((f) => [f.path, createHash('sha256').update(f.data).digest('hex')]));

async function check(client: HostAgentClient, id: string, last: number): Promise<number> {
  const n = await sequence(client, id);
  if (n < last) throw new Error(`sequence went back from ${last} to ${n}`);
  // Alive: the writer appends at least once more.
  const deadline = Date.now() + 30_000;
  while ((await sequence(client, id)) <= n) {
    if (Date.now() > deadline) throw new Error(`the writer stopped at ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const listed = await exec(
    client,
    id,
    'sha256sum',
    files.map((f) => f.path),
  );
  for (const line of listed.trim().split('\n')) {
    const [sum, path] = line.split(/\s+/);
    if (sums.get(path ?? '') !== sum) throw new Error(`${path} is not byte-exact`);
  }
  return n;
}

let agent = await startAgent();
let done = 0;
const pauses: number[] = [];
const resumes: number[] = [];
const failures: string[] = [];
try {
  const { sandbox } = await agent.client.createSandbox({ spec: { memoryMib: 256, ttlSeconds: 86400 } });
  if (!sandbox) throw new Error('no sandbox');
  const id = sandbox.id;
  for (const f of files) await writeFile(agent.client, id, f.path, f.data);
  const writer = 'i=0; while :; do i=$((i+1)); echo $i >> /root/seq; sleep 0.05; done';
  await exec(agent.client, id, 'sh', ['-c', `nohup sh -c '${writer}' >/dev/null 2>&1 &`]);
  let last = await check(agent.client, id, 0);
  const started = Date.now();
  // SIGINT (Ctrl-C) ends the run after the cycle under way, with the figures of the cycles done.
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    progress('interrupted: finishing this cycle, then reporting');
  });
  for (let cycle = 1; cycle <= CYCLES && !interrupted; cycle++) {
    done = cycle;
    try {
      let t0 = performance.now();
      await agent.client.pauseSandbox({ sandboxId: id });
      pauses.push(performance.now() - t0);
      if (cycle % KILL_EVERY === 0 || cycle % RESTART_EVERY === 0) {
        // Resumed first, so the stop finds it running: SIGTERM must pause it; after a SIGKILL the next agent
        // must adopt it still running, its writer never stopped.
        const kill = cycle % KILL_EVERY === 0;
        await agent.client.resumeSandbox({ sandboxId: id });
        await check(agent.client, id, last);
        agent.child.kill(kill ? 'SIGKILL' : 'SIGTERM');
        await agent.exited;
        agent.close();
        agent = await startAgent();
        if (kill) {
          const state = (await agent.client.getSandbox({ sandboxId: id })).sandbox?.state;
          if (state !== SandboxState.RUNNING) throw new Error(`not adopted after a SIGKILL: state ${state}`);
          last = await check(agent.client, id, last);
          continue;
        }
      }
      t0 = performance.now();
      await agent.client.resumeSandbox({ sandboxId: id });
      resumes.push(performance.now() - t0);
      last = await check(agent.client, id, last);
    } catch (err) {
      failures.push(`cycle ${cycle}: ${(err as Error).message}`);
      progress(`FAIL cycle ${cycle}: ${(err as Error).message}`);
      // Carry on from whatever state is left: a paused sandbox is resumed, a running one kept.
      const state = await agent.client.getSandbox({ sandboxId: id }).catch(() => undefined);
      if (state?.sandbox && state.sandbox.state !== SandboxState.RUNNING)
        await agent.client.resumeSandbox({ sandboxId: id }).catch(() => undefined);
      last = await sequence(agent.client, id).catch(() => last);
    }
    if (cycle % 10 === 0)
      progress(
        `cycle ${cycle}/${CYCLES}: ${last} numbers, ${failures.length} failures, ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
  }
  await agent.client.destroySandbox({ sandboxId: id });
} finally {
  agent.child.kill('SIGTERM');
  await agent.exited;
  agent.close();
  await rm(home, { recursive: true, force: true });
}
report('soak_cycles', done, 'cycles');
report('soak_failures', failures.length, 'cycles');
report('soak_pause_p50_ms', percentile(pauses, 50), 'ms');
report('soak_pause_p99_ms', percentile(pauses, 99), 'ms');
report('soak_resume_p50_ms', percentile(resumes, 50), 'ms');
report('soak_resume_p99_ms', percentile(resumes, 99), 'ms');
if (failures.length) {
  for (const f of failures.slice(0, 20)) process.stderr.write(`${f}\n`);
  process.exit(1);
}
