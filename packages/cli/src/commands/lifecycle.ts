import { PrefetchPolicy } from '@amber/proto/hostagent';
import type { Command } from 'commander';
import { describe, int, withClient } from './client.js';

const prefetchPolicies: Record<string, PrefetchPolicy> = {
  none: PrefetchPolicy.NONE,
  all: PrefetchPolicy.ALL,
  'working-set': PrefetchPolicy.WORKING_SET,
};

function prefetch(value: string): PrefetchPolicy {
  const policy = prefetchPolicies[value];
  if (policy === undefined)
    throw new Error(`--prefetch must be one of ${Object.keys(prefetchPolicies).join(', ')}`);
  return policy;
}

/** `amber sandbox pause|resume|fork` and `amber template create|ls|rm`. */
export function registerLifecycleCommands(program: Command, sandbox: Command): void {
  sandbox
    .command('pause <id>')
    .description('write the sandbox to disk and free its memory and CPU')
    .action(
      withClient(async (client, id: string) => {
        const res = await client.pauseSandbox({ sandboxId: id });
        process.stdout.write(`${describe(res.sandbox)}  (generation ${res.generationBytes} bytes)\n`);
      }),
    );

  sandbox
    .command('resume <id>')
    .option('--prefetch <policy>', 'none | all | working-set', prefetch)
    .option('--ttl <seconds>', 'new time to live', int)
    .action(
      withClient(async (client, id: string, opts: { prefetch?: PrefetchPolicy; ttl?: number }) => {
        const res = await client.resumeSandbox({
          sandboxId: id,
          prefetch: opts.prefetch ?? PrefetchPolicy.UNSPECIFIED,
          ttlSeconds: opts.ttl ?? 0,
        });
        process.stdout.write(`${describe(res.sandbox)}\n`);
      }),
    );

  sandbox
    .command('fork <id>')
    .description('new sandboxes from the current state of a running or paused one')
    .option('-n, --count <n>', 'how many', int, 1)
    .action(
      withClient(async (client, id: string, opts: { count: number }) => {
        const res = await client.forkSandbox({ sandboxId: id, count: opts.count });
        for (const s of res.sandboxes) process.stdout.write(`${s.id}\n`);
      }),
    );

  const template = program.command('template').description('named, immutable snapshots that spawn sandboxes');
  template
    .command('create <sandbox> <name>')
    .description('freeze a running or paused sandbox as a template')
    .action(
      withClient(async (client, sandboxId: string, name: string) => {
        const res = await client.createSnapshot({ sandboxId, name });
        process.stdout.write(`${res.snapshot?.name}\n`);
      }),
    );
  template.command('ls').action(
    withClient(async (client) => {
      for (const t of (await client.listSnapshots({})).snapshots) {
        const users = t.dependents.length ? `  used by ${t.dependents.join(',')}` : '';
        process.stdout.write(
          `${t.name}  ${t.vcpus} vcpu  ${t.memoryMib} MiB  from ${t.sourceSandboxId}${users}\n`,
        );
      }
    }),
  );
  template.command('rm <name...>').action(
    withClient(async (client, names: string[]) => {
      for (const name of names) await client.deleteSnapshot({ name });
    }),
  );
}
