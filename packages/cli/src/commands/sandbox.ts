import { createReadStream, createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { describe, int, withClient } from './client.js';
import { registerLifecycleCommands } from './lifecycle.js';

export function registerSandboxCommands(program: Command): void {
  const sandbox = program.command('sandbox').alias('sb').description('create, use and destroy sandboxes');
  registerLifecycleCommands(program, sandbox);

  sandbox
    .command('create')
    .option('--memory <mib>', 'guest memory in MiB', int)
    .option('--vcpus <n>', 'virtual CPUs', int)
    .option('--ttl <seconds>', 'seconds without a ping before it is destroyed', int)
    .option('--template <name>', 'start from a snapshot template')
    .action(
      withClient(
        async (client, opts: { memory?: number; vcpus?: number; ttl?: number; template?: string }) => {
          const { sandbox: s } = await client.createSandbox({
            spec: {
              memoryMib: opts.memory,
              vcpus: opts.vcpus,
              ttlSeconds: opts.ttl,
              template: opts.template ?? '',
            },
          });
          process.stdout.write(`${s?.id}\n`);
        },
      ),
    );

  sandbox.command('ls').action(
    withClient(async (client) => {
      const { sandboxes } = await client.listSandboxes({});
      for (const s of sandboxes) process.stdout.write(`${describe(s)}\n`);
    }),
  );

  sandbox.command('get <id>').action(
    withClient(async (client, id: string) => {
      process.stdout.write(`${describe((await client.getSandbox({ sandboxId: id })).sandbox)}\n`);
    }),
  );

  sandbox
    .command('rm <id...>')
    .description('destroy sandboxes')
    .action(
      withClient(async (client, ids: string[]) => {
        for (const id of ids) await client.destroySandbox({ sandboxId: id });
      }),
    );

  sandbox
    .command('exec <id> <cmd> [args...]')
    .description('run a command; exits with its exit code')
    // Everything after <cmd> belongs to the command, including its own flags.
    .passThroughOptions()
    .option('--timeout <ms>', 'kill it after this long', int)
    .option('--cwd <dir>')
    .action(
      withClient(
        async (client, id: string, cmd: string, args: string[], opts: { timeout?: number; cwd?: string }) => {
          // `amber sandbox exec <id> -- cmd ...`: the separator reaches us as <cmd>.
          if (cmd === '--') {
            const [first, ...rest] = args;
            if (!first) throw new Error('no command after --');
            [cmd, args] = [first, rest];
          }
          const stream = client.exec({
            sandboxId: id,
            cmd,
            args,
            timeoutMs: opts.timeout ?? 0,
            cwd: opts.cwd ?? '',
          });
          for await (const res of stream) {
            const e = res.event;
            if (e.case === 'stdout') process.stdout.write(e.value);
            else if (e.case === 'stderr') process.stderr.write(e.value);
            else if (e.case === 'exit') process.exitCode = e.value.signal ? 128 + 9 : e.value.exitCode;
          }
        },
      ),
    );

  sandbox.command('upload <id> <local> <remote>').action(
    withClient(async (client, id: string, local: string, remote: string) => {
      async function* parts() {
        yield { part: { case: 'header' as const, value: { sandboxId: id, path: remote } } };
        for await (const chunk of createReadStream(local, { highWaterMark: 256 * 1024 })) {
          yield { part: { case: 'data' as const, value: chunk as Buffer } };
        }
      }
      const { bytesWritten } = await client.writeFile(parts());
      process.stdout.write(`${bytesWritten} bytes\n`);
    }),
  );

  sandbox.command('download <id> <remote> <local>').action(
    withClient(async (client, id: string, remote: string, local: string) => {
      const out = createWriteStream(local);
      for await (const res of client.readFile({ sandboxId: id, path: remote })) {
        if (!out.write(res.data)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      await new Promise<void>((r) => out.end(() => r()));
    }),
  );

  sandbox
    .command('ping <id>')
    .description('extend the time to live')
    .option('--ttl <seconds>', 'new time to live', int)
    .action(
      withClient(async (client, id: string, opts: { ttl?: number }) => {
        process.stdout.write(
          `${describe((await client.ping({ sandboxId: id, ttlSeconds: opts.ttl ?? 0 })).sandbox)}\n`,
        );
      }),
    );
}
