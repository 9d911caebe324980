// `amber snapshot create|ls|rm`: named templates that new sandboxes spawn from.
import { Snapshot } from '@amber/sdk';
import type { Command } from 'commander';
import { formatBytes, printJson, printTable, relativeTime } from './output.js';
import { withSpinner } from './spinner.js';

export function registerSnapshotCommands(program: Command): void {
  const snapshot = program
    .command('snapshot')
    .alias('template')
    .description('named snapshots (templates): `amber sandbox create --template <name>` spawns from one');

  snapshot
    .command('create <sandbox> <name>')
    .description('freeze a running or paused sandbox under a name')
    .option('--overwrite', 'replace a snapshot of the same name')
    .option('--json', 'machine-readable output')
    .action(async (sandboxId: string, name: string, f: { overwrite?: boolean; json?: boolean }) => {
      const snap = await withSpinner(`snapshotting ${sandboxId}`, () =>
        Snapshot.create(sandboxId, name, f.overwrite ? { overwrite: true } : {}),
      );
      if (f.json) printJson(snap);
      else process.stdout.write(`${snap.name}\n`);
    });

  snapshot
    .command('ls')
    .alias('list')
    .option('--json', 'machine-readable output')
    .action(async (f: { json?: boolean }) => {
      const list = await Snapshot.list();
      if (f.json) {
        printJson(list);
        return;
      }
      // MEMORY is the guest's size; MEM DATA and DISK what the snapshot holds on the host.
      printTable(
        ['name', 'vcpus', 'memory', 'mem data', 'disk', 'from', 'created'],
        list.map((s) => [
          s.name,
          String(s.vcpus),
          `${s.memoryMb} MB`,
          formatBytes(s.memoryBytes),
          formatBytes(s.diskBytes),
          s.builtIn ? '(built in)' : (s.sandboxId ?? '-'),
          relativeTime(s.createdAt),
        ]),
        'no snapshots',
      );
    });

  snapshot
    .command('rm <name...>')
    .description('delete snapshots (sandboxes spawned from one keep running)')
    .action(async (names: string[]) => {
      for (const name of names) {
        await Snapshot.delete(name);
        process.stdout.write(`${name}\n`);
      }
    });
}
