import { Command, CommanderError } from 'commander';
import { registerAgentCommands } from './commands/agent.js';
import { registerCpCommand } from './commands/cp.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerExecCommand } from './commands/exec.js';
import { exitCodeOfError } from './commands/exit-code.js';
import { registerImageCommands } from './commands/image.js';
import { registerImagePruneCommand } from './commands/image-prune.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerMemsnapCommands } from './commands/memsnap.js';
import { registerSandboxCommands } from './commands/sandbox.js';
import { registerShellCommand } from './commands/shell.js';
import { registerSnapshotCommands } from './commands/snapshot.js';
import { registerUpDownCommands } from './commands/up-down.js';

/** Builds the `amber` command tree; each command group lives in its own file under commands/. */
export function createProgram(): Command {
  const program = new Command('amber')
    .description('Amber: microVM sandboxes with lazy memory snapshots')
    .showHelpAfterError()
    .enablePositionalOptions()
    .exitOverride();
  registerUpDownCommands(program);
  // Through the SDK to the control plane.
  registerSandboxCommands(program);
  registerExecCommand(program);
  registerShellCommand(program);
  registerCpCommand(program);
  registerSnapshotCommands(program);
  registerKeyCommands(program);
  // Low level: this machine's host agent, images and snapshot files, directly.
  registerAgentCommands(program);
  registerImageCommands(program);
  registerImagePruneCommand(program);
  registerDoctorCommand(program);
  registerMemsnapCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `amber ... | head`: a reader that stops early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = createProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    process.stderr.write(`amber: ${typeof code === 'string' ? `[${code}] ` : ''}${message}\n`);
    process.exitCode = exitCodeOfError(err);
  }
}
