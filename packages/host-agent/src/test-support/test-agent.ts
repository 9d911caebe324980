import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type RunningAgent, startAgent } from '../agent.js';
import type { AgentConfig } from '../config.js';
import { connectHostAgent, type HostAgentClient } from '../rpc/client.js';

/** A real agent on a unix socket in a temp home, for integration tests. */
export interface TestAgent {
  agent: RunningAgent;
  client: HostAgentClient;
  home: string;
  stop(): Promise<void>;
}

export async function startTestAgent(config: Partial<AgentConfig> = {}): Promise<TestAgent> {
  const home = await mkdtemp(join(tmpdir(), 'amber-agent-test-'));
  const agent = await startAgent({
    config: { home, listen: `unix:${join(home, 'agent.sock')}`, ...config },
    log: pino({ level: process.env.AMBER_LOG_LEVEL ?? 'silent' }),
  });
  const connection = connectHostAgent(agent.server.url);
  const client = connection.client;
  return {
    agent,
    client,
    home,
    async stop() {
      for (const sandbox of agent.manager.list())
        await agent.manager.destroy(sandbox.id).catch(() => undefined);
      connection.close();
      await agent.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export async function execText(client: HostAgentClient, sandboxId: string, cmd: string, args: string[] = []) {
  let stdout = '';
  let stderr = '';
  let exitCode: number | undefined;
  let signal = '';
  for await (const res of client.exec({ sandboxId, cmd, args })) {
    const e = res.event;
    if (e.case === 'stdout') stdout += Buffer.from(e.value).toString();
    else if (e.case === 'stderr') stderr += Buffer.from(e.value).toString();
    else if (e.case === 'exit') {
      exitCode = e.value.exitCode;
      signal = e.value.signal;
    }
  }
  return { stdout, stderr, exitCode, signal };
}

/** Everything a sandbox may leave on the host; each entry must be gone after destroy. */
export function leftovers(agent: RunningAgent, id: string, qemuPid?: number): string[] {
  const paths = agent.manager.paths(id);
  const found: string[] = [];
  if (qemuPid && existsSync(`/proc/${qemuPid}`)) found.push(`qemu pid ${qemuPid}`);
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (namespaces.includes(`amber-${id}`)) found.push(`netns amber-${id}`);
  if (existsSync(paths.memory)) found.push(paths.memory);
  if (existsSync(paths.dir)) found.push(paths.dir);
  return found;
}

export async function writeText(client: HostAgentClient, sandboxId: string, path: string, text: string) {
  await client.writeFile(
    (async function* () {
      yield { part: { case: 'header' as const, value: { sandboxId, path } } };
      yield { part: { case: 'data' as const, value: Buffer.from(text) } };
    })(),
  );
}

export async function readText(client: HostAgentClient, sandboxId: string, path: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const res of client.readFile({ sandboxId, path })) chunks.push(res.data);
  return Buffer.concat(chunks).toString();
}
