// `amber shell <id>`: an interactive terminal in the sandbox over the exec stream with a pty.
import { Sandbox } from '@amber/sdk';
import type { Command } from 'commander';
import { writeOut } from './exec.js';
import { exitCodeOf } from './exit-code.js';

export function registerShellCommand(program: Command): void {
  program
    .command('shell <id> [cmd...]')
    .description('an interactive terminal in a sandbox (default: bash -l)')
    .passThroughOptions()
    .action(async (id: string, args: string[]) => {
      const { stdin, stdout } = process;
      if (!stdin.isTTY || !stdout.isTTY) throw new Error('amber shell needs a terminal (use amber exec)');
      const cmd = args[0] === '--' ? args.slice(1) : args;
      const sb = await Sandbox.get(id);
      const proc = await sb.execStream(cmd.length ? cmd : ['/bin/bash', '-l'], {
        pty: true,
        cols: stdout.columns,
        rows: stdout.rows,
        envs: { TERM: process.env.TERM || 'xterm-256color' },
      });
      const onResize = () => proc.resize(stdout.columns, stdout.rows);
      const onInput = (chunk: Buffer) => proc.sendStdin(chunk);
      stdin.setRawMode(true);
      stdin.on('data', onInput);
      process.on('SIGWINCH', onResize);
      try {
        for await (const out of proc) await writeOut(stdout, out.data);
        process.exitCode = exitCodeOf(await proc.wait());
      } finally {
        process.off('SIGWINCH', onResize);
        stdin.off('data', onInput);
        stdin.setRawMode(false);
        stdin.destroy();
      }
    });
}
