import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type RunningAgent, startAgent } from '../agent.js';
import type { AgentConfig } from '../config.js';
import { connectHostAgent, type HostAgentClient } from '../rpc/client.js';
import { agentLeftovers, removeAgentLeftovers } from './leftovers.js';

/** A real agent on a unix socket in a temp home, for integration tests. */
export interface TestAgent {
  agent: RunningAgent;
  client: HostAgentClient;
  home: string;
  stop(): Promise<void>;
}

export async function startTestAgent(config: Partial<AgentConfig> = {}): Promise<TestAgent> {
  const home = await mkdtemp(join(tmpdir(), 'amber-agent-test-'));
  // Guest RAM in a tmpfs directory of its own: an agent starting elsewhere on this machine (another test,
  // another work tree) removes every sandbox RAM file it finds in its shm dir at recovery, ours included.
  const shmDir = await mkdtemp('/dev/shm/amber-agent-test-');
  const agent = await startAgent({
    config: { home, shmDir, listen: `unix:${join(home, 'agent.sock')}`, ...config },
    log: pino({ level: process.env.AMBER_LOG_LEVEL ?? 'silent' }),
  });
  const connection = connectHostAgent(agent.server.url);
  const client = connection.client;
  return {
    agent,
    client,
    home,
    /**
     * Destroys every sandbox, stops the agent, and fails if anything of it is left on the host (after
     * removing it, so a leak does not spill into the next test).
     */
    async stop() {
      const ids = new Set(agent.manager.list().map((s) => s.id));
      const errors: unknown[] = [];
      for (const id of ids) await agent.manager.destroy(id).catch((err) => errors.push(err));
      connection.close();
      await agent.close();
      const found = agentLeftovers(home, agent.config.shmDir, ids);
      if (found.length > 0) await removeAgentLeftovers(home, agent.config.shmDir, ids);
      await rm(home, { recursive: true, force: true });
      await rm(shmDir, { recursive: true, force: true });
      if (found.length > 0) throw new Error(`the agent left behind: ${found.join('; ')}`);
      if (errors.length > 0) throw new AggregateError(errors, 'destroying the remaining sandboxes failed');
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
