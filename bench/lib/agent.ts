import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AgentConfig,
  connectHostAgent,
  type HostAgentClient,
  type RunningAgent,
  startAgent,
} from '@amber/host-agent';
import { pino } from 'pino';

export interface BenchAgent {
  agent: RunningAgent;
  client: HostAgentClient;
  stop(): Promise<void>;
}

/** A real host agent in a temp home, reached over its unix socket like any client. */
export async function startBenchAgent(config: Partial<AgentConfig> = {}): Promise<BenchAgent> {
  const home = await mkdtemp(join(tmpdir(), 'amber-bench-'));
  const agent = await startAgent({
    config: { home, listen: `unix:${join(home, 'agent.sock')}`, ...config },
    log: pino({ level: process.env.AMBER_LOG_LEVEL ?? 'warn' }, process.stderr),
  });
  const connection = connectHostAgent(agent.server.url);
  return {
    agent,
    client: connection.client,
    async stop() {
      for (const s of agent.manager.list()) await agent.manager.destroy(s.id).catch(() => undefined);
      connection.close();
      await agent.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}
