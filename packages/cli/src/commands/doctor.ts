import { checkHost, loadConfig } from '@amber/host-agent';
import type { Command } from 'commander';

/** `amber doctor`: one line per check of what this host can do for sandboxes; exit 1 if any fails. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check this host: QEMU, KVM, userfaultfd, disk, memory, cgroups, nftables')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const checks = await checkHost(loadConfig());
      if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
      else
        for (const c of checks)
          process.stdout.write(`${c.status.toUpperCase().padEnd(5)} ${c.name.padEnd(17)} ${c.detail}\n`);
      if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
    });
}
