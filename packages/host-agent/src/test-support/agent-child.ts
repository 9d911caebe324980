// The host agent as a child process (agent-process.ts), for tests and the soak run that stop it with
// SIGTERM or kill it with SIGKILL, and start the next one on the same home.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectHostAgent, type HostAgentClient } from '../rpc/client.js';

const agentMain = fileURLToPath(new URL('./agent-process.ts', import.meta.url));

export interface AgentChild {
  child: ChildProcess;
  client: HostAgentClient;
  /** Every line the agent wrote on stdout (its pino log, at AMBER_LOG_LEVEL). */
  logs: string[];
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Closes the client connection (not the agent). */
  close(): void;
  /** SIGTERM, then the exit; throws unless the agent exited cleanly (code 0). */
  stop(): Promise<void>;
}

export async function spawnAgentChild(home: string, env: Record<string, string> = {}): Promise<AgentChild> {
  const child = spawn(process.execPath, ['--conditions=amber-source', '--import', 'tsx', agentMain], {
    env: {
      ...process.env,
      AMBER_HOME: home,
      AMBER_AGENT_LISTEN: `unix:${join(home, 'agent.sock')}`,
      AMBER_LOG_LEVEL: 'info',
      // This machine is shared and busy: a boot may take minutes.
      AMBER_BOOT_TIMEOUT_SECONDS: '300',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      logs.push(line);
      if (line.includes('agent process ready')) resolve();
    });
    void exited.then(() => reject(new Error(`agent exited before it was ready:\n${logs.join('\n')}`)));
  });
  const { client, close } = connectHostAgent(`unix:${join(home, 'agent.sock')}`);
  const stop = async () => {
    child.kill('SIGTERM');
    const exit = await exited;
    close();
    if (exit.code !== 0)
      throw new Error(
        `the agent did not stop cleanly: ${JSON.stringify(exit)}\n${logs.slice(-20).join('\n')}`,
      );
  };
  return { child, client, logs, exited, close, stop };
}

/** The log lines (parsed) whose msg is `msg`. */
export function logEntries(agent: AgentChild, msg: string): Array<Record<string, unknown>> {
  return agent.logs
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === msg);
}
