import type { Command } from 'commander';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run the host agent in the foreground (sandboxes on this machine)')
    .option('--listen <address>', 'unix:<path> or <host>:<port> (default: unix:$AMBER_HOME/agent.sock)')
    .option('--home <dir>', 'state directory (default: $AMBER_HOME or ~/.amber)')
    .action(async (opts: { listen?: string; home?: string }) => {
      const { startAgent } = await import('@amber/host-agent');
      const agent = await startAgent({
        config: { ...(opts.listen && { listen: opts.listen }), ...(opts.home && { home: opts.home }) },
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await agent.close();
    });
}
