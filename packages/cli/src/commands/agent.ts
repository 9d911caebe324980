import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectHostAgent, loadConfig, startAgent } from '@amber/host-agent';
import type { Command } from 'commander';

async function waitUntilServing(listen: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { client, close } = connectHostAgent(listen, process.env.AMBER_AGENT_TOKEN);
    try {
      await client.getHostInfo({}, { timeoutMs: 1000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the agent did not come up: ${(err as Error).message}`);
    } finally {
      close();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run the host agent in the foreground (sandboxes on this machine)')
    .option('--listen <address>', 'unix:<path> or <host>:<port> (default: unix:$AMBER_HOME/agent.sock)')
    .option('--home <dir>', 'state directory (default: $AMBER_HOME or ~/.amber)')
    .action(async (opts: { listen?: string; home?: string }) => {
      const agent = await startAgent({
        config: { ...(opts.listen && { listen: opts.listen }), ...(opts.home && { home: opts.home }) },
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await agent.close();
    });

  program
    .command('up')
    .description('start Amber in the background (the host agent), logging to $AMBER_HOME/agent.log')
    .action(async () => {
      const config = loadConfig();
      await mkdir(config.home, { recursive: true });
      const pidFile = join(config.home, 'agent.pid');
      const previous = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
      if (previous && isAlive(previous)) {
        process.stdout.write(`Amber is already running (pid ${previous}, ${config.listen})\n`);
        return;
      }
      const logFd = openSync(join(config.home, 'agent.log'), 'a');
      const child = spawn(process.execPath, [process.argv[1] as string, 'agent'], {
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
      child.unref();
      await writeFile(pidFile, `${child.pid}\n`);
      await waitUntilServing(config.listen, 120_000);
      process.stdout.write(
        `Amber is running (pid ${child.pid}) on ${config.listen}; log: ${join(config.home, 'agent.log')}\n`,
      );
    });

  program
    .command('down')
    .description('stop the background agent started by `amber up`, pausing every running sandbox first')
    .action(async () => {
      const pidFile = join(loadConfig().home, 'agent.pid');
      const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
      if (!pid || !isAlive(pid)) {
        process.stdout.write('Amber is not running\n');
        await rm(pidFile, { force: true });
        return;
      }
      process.kill(pid, 'SIGTERM');
      // The agent pauses every running sandbox before it exits: that takes as long as it takes.
      const started = Date.now();
      for (let i = 1; isAlive(pid); i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (i % 100 === 0)
          process.stdout.write(
            `waiting for agent ${pid} to pause its sandboxes (${(Date.now() - started) / 1000} s)\n`,
          );
      }
      await rm(pidFile, { force: true });
      process.stdout.write(`stopped agent ${pid}\n`);
    });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
