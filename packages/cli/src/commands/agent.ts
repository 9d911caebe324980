import type { Command } from 'commander';
import { stopSignal } from './stop-signal.js';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run the host agent in the foreground (sandboxes on this machine)')
    .option('--listen <address>', 'unix:<path> or <host>:<port> (default: unix:$AMBER_HOME/agent.sock)')
    .option('--home <dir>', 'state directory (default: $AMBER_HOME or ~/.amber)')
    .action(async (opts: { listen?: string; home?: string }) => {
      // The agent answers on its socket before startAgent returns: a signal in that window stops it once up.
      const stopped = stopSignal();
      const { startAgent } = await import('@amber/host-agent');
      const agent = await startAgent({
        config: { ...(opts.listen && { listen: opts.listen }), ...(opts.home && { home: opts.home }) },
      });
      await stopped;
      await agent.close();
    });
}
