// What the agent creates on the host, and checks that it is all gone: a sandbox's QEMU (and any process
// naming its files), its network namespace `<hash of home>-<hex>` with the tap in it, its RAM file in the
// shm dir, its run dir (its own, or a pooled VM's under home/pool) and its directory; for a whole agent,
// every namespace, pooled RAM file and process under its home.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningAgent } from '../agent.js';
import type { AgentConfig } from '../config.js';
import { namespacePrefix } from '../network/network-slot.js';
import { sandboxPaths } from '../sandbox.js';
import { poolPaths } from '../vm-pool.js';

/** A running sandbox's host resources, read while it runs (its runtime is gone after destroy). */
export interface SandboxFootprint {
  id: string;
  qemuPid?: number;
  netns?: string;
  memoryFile: string;
  runDir?: string;
  dir: string;
}

export function footprint(agent: RunningAgent, id: string): SandboxFootprint {
  const sandbox = agent.manager.get(id);
  const paths = agent.manager.paths(id);
  return {
    id,
    ...(sandbox.runtime && {
      qemuPid: sandbox.runtime.vm.pid,
      netns: sandbox.runtime.slot.netns,
      runDir: sandbox.runtime.vm.spec.runDir,
    }),
    memoryFile: paths.memory,
    dir: paths.dir,
  };
}

/** Alive and not a zombie waiting for its parent. */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Live processes (not this one) whose command line contains `text`. */
export function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(text) && isRunning(Number(entry))) pids.push(Number(entry));
  }
  return pids;
}

export function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

function describeNamespace(name: string): string {
  let links = '';
  try {
    links = execFileSync('ip', ['-n', name, '-o', 'link', 'show', 'type', 'tun'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
      .filter(Boolean)
      .join(', ');
  } catch {
    // Gone between the listing and this look.
  }
  return `netns ${name}${links ? ` (taps: ${links})` : ''}`;
}

/** Everything of one sandbox still on the host; empty once it is destroyed. */
export function leftovers(sandbox: SandboxFootprint): string[] {
  const found: string[] = [];
  if (sandbox.qemuPid && isRunning(sandbox.qemuPid)) found.push(`qemu pid ${sandbox.qemuPid}`);
  for (const text of [sandbox.memoryFile, sandbox.dir, ...(sandbox.runDir ? [sandbox.runDir] : [])])
    for (const pid of processesNaming(text))
      if (pid !== sandbox.qemuPid) found.push(`process ${pid} naming ${text}`);
  if (sandbox.netns && namespaces().includes(sandbox.netns)) found.push(describeNamespace(sandbox.netns));
  for (const path of [sandbox.memoryFile, sandbox.runDir, sandbox.dir])
    if (path && existsSync(path)) found.push(path);
  return found;
}

/**
 * Everything an agent on `home` left on the host after it stopped: namespaces under its prefix, pooled
 * RAM files, RAM files of the sandboxes it had (`ids`), and processes naming its home.
 */
export function agentLeftovers(home: string, shmDir: string, ids: Iterable<string> = []): string[] {
  const found: string[] = [];
  const prefix = namespacePrefix(home);
  for (const name of namespaces()) if (name.startsWith(prefix)) found.push(describeNamespace(name));
  const { memoryPrefix } = poolPaths({ home, shmDir } as AgentConfig);
  for (const file of existsSync(shmDir) ? readdirSync(shmDir) : [])
    if (file.startsWith(memoryPrefix)) found.push(join(shmDir, file));
  for (const id of ids) {
    const { memory } = sandboxPaths(home, shmDir, id);
    if (existsSync(memory)) found.push(memory);
  }
  for (const pid of processesNaming(`${home}/`)) found.push(`process ${pid} naming ${home}`);
  return found;
}

/** Frees what agentLeftovers found (after a failed check), so one broken test does not leak into the next. */
export async function removeAgentLeftovers(home: string, shmDir: string, ids: Iterable<string> = []) {
  for (const pid of processesNaming(`${home}/`)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + 10_000;
  while (processesNaming(`${home}/`).length > 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const prefix = namespacePrefix(home);
  for (const name of namespaces()) if (name.startsWith(prefix)) execFileSync('ip', ['netns', 'del', name]);
  const { memoryPrefix } = poolPaths({ home, shmDir } as AgentConfig);
  for (const file of existsSync(shmDir) ? readdirSync(shmDir) : [])
    if (file.startsWith(memoryPrefix)) rmSync(join(shmDir, file), { force: true });
  for (const id of ids) rmSync(sandboxPaths(home, shmDir, id).memory, { force: true });
}
