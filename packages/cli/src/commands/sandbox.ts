// `amber sandbox create|ls|get|rm|pause|resume|fork|timeout`, through the SDK to the control plane.
import { type CreateSandboxOptions, Sandbox, type SandboxInfo, type SandboxState } from '@amber/sdk';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { collectPair, formatFields, positiveInt, printJson, printTable, relativeTime } from './output.js';
import { withSpinner } from './spinner.js';

function row(s: SandboxInfo): string[] {
  const metadata = Object.entries(s.metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    s.id,
    s.state,
    s.template ?? '(cold)',
    String(s.vcpus),
    `${s.memoryMb} MB`,
    relativeTime(s.createdAt),
    s.state === 'paused' ? 'paused' : relativeTime(s.expiresAt),
    metadata,
  ];
}

const HEADERS = ['id', 'state', 'template', 'vcpus', 'memory', 'created', 'expires', 'metadata'];

export function printSandboxes(list: SandboxInfo[], json: boolean | undefined): void {
  if (json) printJson(list);
  else printTable(HEADERS, list.map(row), 'no sandboxes');
}

export function printSandbox(s: SandboxInfo, json: boolean | undefined): void {
  if (json) {
    printJson(s);
    return;
  }
  const fields: [string, string][] = [
    ['id', s.id],
    ['state', s.state],
    ['template', s.template ?? '(cold boot)'],
    ['vcpus', String(s.vcpus)],
    ['memory', `${s.memoryMb} MB`],
    ['created', `${s.createdAt} (${relativeTime(s.createdAt)})`],
    ['expires', s.expiresAt ? `${s.expiresAt} (${relativeTime(s.expiresAt)})` : '- (not running)'],
    ['timeout', `${s.timeoutSec}s, then ${s.onTimeout}`],
  ];
  for (const [k, v] of Object.entries(s.metadata)) fields.push([`metadata.${k}`, v]);
  if (s.error) fields.push(['error', s.error]);
  process.stdout.write(formatFields(fields));
}

const STATES: SandboxState[] = ['starting', 'running', 'pausing', 'paused', 'resuming', 'stopped', 'error'];

function states(value: string): SandboxState[] {
  const list = value.split(',').map((s) => s.trim()) as SandboxState[];
  for (const s of list) if (!STATES.includes(s)) throw new InvalidArgumentError(`unknown state ${s}`);
  return list;
}

interface CreateFlags {
  template?: string;
  cold?: boolean;
  vcpus?: number;
  memory?: number;
  timeout?: number;
  onTimeout?: 'kill' | 'pause';
  metadata?: Record<string, string>;
  env?: Record<string, string>;
  json?: boolean;
}

export function registerSandboxCommands(program: Command): void {
  const sandbox = program
    .command('sandbox')
    .alias('sb')
    .description('create, list, pause, resume, fork, destroy');

  sandbox
    .command('create')
    .description('create a sandbox (from the built-in template `base` unless told otherwise); prints its id')
    .option('-t, --template <name>', 'spawn from this snapshot')
    .option('--cold', 'cold-boot the image instead of spawning from a template')
    .option('--vcpus <n>', 'virtual CPUs', positiveInt)
    .option('-m, --memory <mb>', 'guest memory in MB', positiveInt)
    .option('--timeout <sec>', 'seconds until the timeout acts (exec and `timeout` restart it)', positiveInt)
    .addOption(new Option('--on-timeout <action>', 'what the timeout does').choices(['kill', 'pause']))
    .option('--metadata <key=value>', 'a label (repeatable)', collectPair)
    .option('-e, --env <KEY=value>', 'an environment variable for every process (repeatable)', collectPair)
    .option('--json', 'print the sandbox as JSON')
    .action(async (f: CreateFlags) => {
      if (f.cold && f.template) throw new InvalidArgumentError('--cold and --template exclude each other');
      const opts: CreateSandboxOptions = {
        ...(f.cold ? { template: null } : f.template !== undefined && { template: f.template }),
        ...(f.vcpus !== undefined && { vcpus: f.vcpus }),
        ...(f.memory !== undefined && { memoryMb: f.memory }),
        ...(f.timeout !== undefined && { timeoutSec: f.timeout }),
        ...(f.onTimeout && { onTimeout: f.onTimeout }),
        ...(f.metadata && { metadata: f.metadata }),
        ...(f.env && { envs: f.env }),
      };
      const sb = await withSpinner('creating sandbox', () => Sandbox.create(opts));
      if (f.json) printJson(sb.info);
      else process.stdout.write(`${sb.id}\n`);
    });

  sandbox
    .command('ls')
    .alias('list')
    .description('list sandboxes')
    .option('-s, --state <states>', 'only these states, comma-separated', states)
    .option('--metadata <key=value>', 'only sandboxes with this label (repeatable)', collectPair)
    .option('--json', 'machine-readable output')
    .action(async (f: { state?: SandboxState[]; metadata?: Record<string, string>; json?: boolean }) => {
      const list = await Sandbox.list({
        ...(f.state && { state: f.state }),
        ...(f.metadata && { metadata: f.metadata }),
      });
      printSandboxes(
        list.map((s) => s.info),
        f.json,
      );
    });

  sandbox
    .command('get <id>')
    .description('show one sandbox')
    .option('--json', 'machine-readable output')
    .action(async (id: string, f: { json?: boolean }) => {
      printSandbox((await Sandbox.get(id)).info, f.json);
    });

  sandbox
    .command('rm <id...>')
    .alias('kill')
    .description('destroy sandboxes and everything they hold')
    .action(async (ids: string[]) => {
      for (const id of ids) {
        await withSpinner(`destroying ${id}`, async () => (await Sandbox.get(id)).kill());
        process.stdout.write(`${id}\n`);
      }
    });

  for (const [name, description] of [
    ['pause', 'write memory and disk to storage and free the memory and CPU'],
    ['resume', 'restore a paused sandbox, processes and files as they were'],
  ] as const) {
    sandbox
      .command(`${name} <id>`)
      .description(description)
      .option('--json', 'machine-readable output')
      .action(async (id: string, f: { json?: boolean }) => {
        const sb = await withSpinner(`${name === 'pause' ? 'pausing' : 'resuming'} ${id}`, async () =>
          (await Sandbox.get(id))[name](),
        );
        printSandbox(sb.info, f.json);
      });
  }

  sandbox
    .command('fork <id>')
    .description("new sandboxes from a sandbox's current state; prints their ids")
    .option('-n, --count <n>', 'how many', positiveInt, 1)
    .option('--json', 'machine-readable output')
    .action(async (id: string, f: { count: number; json?: boolean }) => {
      const forks = await withSpinner(`forking ${id}`, async () => (await Sandbox.get(id)).fork(f.count));
      if (f.json) printJson(forks.map((s) => s.info));
      else for (const s of forks) process.stdout.write(`${s.id}\n`);
    });

  sandbox
    .command('timeout <id> <seconds>')
    .description('set the timeout and restart it: the sandbox now expires that many seconds from now')
    .option('--json', 'machine-readable output')
    .action(async (id: string, seconds: string, f: { json?: boolean }) => {
      const sb = await (await Sandbox.get(id)).setTimeout(positiveInt(seconds));
      printSandbox(sb.info, f.json);
    });
}
