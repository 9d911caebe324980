import type { Command } from 'commander';

export function registerAgentCommands(program: Command): void {
  program
    .command('agent')
    .description('run the host agent in the foreground (sandboxes on this machine)')
    .option('--listen <address>', 'unix:<path> or <host>:<port> (default: unix:$AMBER_HOME/agent.sock)')
    .option('--home <dir>', 'state directory (default: $AMBER_HOME or ~/.amber)')
    .action(async (opts: { listen?: string; home?: string }) => {
      // Listening before the start: the agent answers on its socket (and has launched a pooled QEMU in its
      // own process group) before startAgent returns, and a Ctrl-C in that window used to end the process
      // at once, leaving that QEMU and the namespaces behind. Now it stops the agent as soon as it is up.
      let stop = () => {};
      const stopped = new Promise<void>((resolve) => {
        stop = resolve;
      });
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const { startAgent } = await import('@amber/host-agent');
      const agent = await startAgent({
        config: { ...(opts.listen && { listen: opts.listen }), ...(opts.home && { home: opts.home }) },
      });
      await stopped;
      await agent.close();
    });
}
