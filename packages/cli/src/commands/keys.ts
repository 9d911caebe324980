// `amber keys create|ls|rm`: the API keys of the calling key's team.
import { ApiKeys } from '@amber/sdk';
import type { Command } from 'commander';
import { printJson, printTable, relativeTime } from './output.js';

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('API keys of your team (the key is shown only once)');

  keys
    .command('create <name>')
    .description('create a key and print it (the only time it is shown)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, f: { json?: boolean }) => {
      const key = await ApiKeys.create(name);
      if (f.json) {
        printJson(key);
        return;
      }
      process.stdout.write(`${key.key}\n`);
      process.stderr.write(`key ${key.id} (${key.name}): store it now, it is not shown again\n`);
    });

  keys
    .command('ls')
    .alias('list')
    .option('--json', 'machine-readable output')
    .action(async (f: { json?: boolean }) => {
      const list = await ApiKeys.list();
      if (f.json) {
        printJson(list);
        return;
      }
      printTable(
        ['id', 'name', 'prefix', 'created', 'last used'],
        list.map((k) => [
          k.id,
          k.name,
          `${k.prefix}…`,
          relativeTime(k.createdAt),
          relativeTime(k.lastUsedAt),
        ]),
        'no keys',
      );
    });

  keys
    .command('rm <id...>')
    .description('revoke keys')
    .action(async (ids: string[]) => {
      for (const id of ids) {
        await ApiKeys.delete(id);
        process.stdout.write(`${id}\n`);
      }
    });
}
