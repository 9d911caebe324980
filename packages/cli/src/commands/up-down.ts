// `amber up` / `amber down`: the control plane (with its host agent in the same process) on this machine.
// `up` starts `up --foreground` detached, logging to $AMBER_HOME/amber.log, and returns once the API
// answers. The foreground process writes $AMBER_HOME/amber.pid and $AMBER_HOME/url (read by the SDK and
// the CLI, so `--port` needs no AMBER_URL) and removes them when it stops.
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { health } from '@amber/sdk';
import type { Command } from 'commander';
import { writeFileAtomic } from './atomic-file.js';
import { positiveInt } from './output.js';
import { withSpinner } from './spinner.js';
import { stopSignal } from './stop-signal.js';

/** The first start boots the image and freezes it as `base`: minutes on a busy TCG host. */
const START_TIMEOUT_MS = 15 * 60_000;

interface UpFlags {
  home?: string;
  port?: number;
  foreground?: boolean;
}

function homeOf(flag: string | undefined): string {
  return resolve(flag ?? (process.env.AMBER_HOME || join(homedir(), '.amber')));
}

async function readPid(path: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** No time limit: the agent pauses every running sandbox before it exits, which takes what it takes. */
async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 100));
}

async function runForeground(home: string, port: number | undefined): Promise<void> {
  // Before the pid file exists: `amber down` signals as soon as it can read it.
  const stopped = stopSignal();
  await mkdir(home, { recursive: true });
  // Loaded here, not at the top: every other command would pay for the whole server stack.
  const { startControlPlane } = await import('@amber/control-plane');
  const cp = await startControlPlane({ home, ...(port !== undefined && { port }) });
  await writeFileAtomic(join(home, 'amber.pid'), `${process.pid}\n`);
  await writeFileAtomic(join(home, 'url'), `${cp.url}\n`);
  process.stdout.write(`Amber is serving ${cp.url} (API key in ${join(home, 'api-key')})\n`);
  await stopped;
  await rm(join(home, 'url'), { force: true });
  await cp.close();
  await rm(join(home, 'amber.pid'), { force: true });
}

async function tail(path: string, lines: number): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function runBackground(home: string, port: number | undefined): Promise<void> {
  await mkdir(home, { recursive: true });
  const running = await readPid(join(home, 'amber.pid'));
  if (running) {
    const url = (await readFile(join(home, 'url'), 'utf8').catch(() => '?')).trim();
    process.stdout.write(`Amber is already running at ${url} (pid ${running})\n`);
    return;
  }
  // A host agent from an older `amber up` would hold the socket the control plane's agent needs.
  const legacyAgent = await readPid(join(home, 'agent.pid'));
  if (legacyAgent) {
    await stopPid(legacyAgent);
    await rm(join(home, 'agent.pid'), { force: true });
  }
  await rm(join(home, 'url'), { force: true });
  const log = join(home, 'amber.log');
  const args = [process.argv[1] as string, 'up', '--foreground', '--home', home];
  if (port !== undefined) args.push('--port', String(port));
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
    env: { ...process.env, AMBER_HOME: home },
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ?? `exit code ${code}`;
  });
  child.unref();
  const url = await withSpinner('starting Amber', async () => {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited)
        throw new Error(`Amber stopped while starting (${exited}); ${log}:\n${await tail(log, 20)}`);
      const written = (await readFile(join(home, 'url'), 'utf8').catch(() => '')).trim();
      if (
        written &&
        (await health({ url: written }).then(
          () => true,
          () => false,
        ))
      )
        return written;
      if (Date.now() > deadline)
        throw new Error(`Amber did not answer within ${START_TIMEOUT_MS / 1000} s; see ${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });
  process.stdout.write(
    `Amber is running at ${url} (pid ${child.pid})\n  API key: ${join(home, 'api-key')}\n  log: ${log}\n`,
  );
}

export function registerUpDownCommands(program: Command): void {
  program
    .command('up')
    .description(
      'start Amber on this machine: the API and a host agent (in the background unless --foreground)',
    )
    .option('--home <dir>', 'state directory (default: $AMBER_HOME or ~/.amber)')
    .option('--port <n>', 'API port (default 4280)', (v) => (v === '0' ? 0 : positiveInt(v)))
    .option('--foreground', 'stay attached and log to the terminal; Ctrl-C stops it')
    .action(async (f: UpFlags) => {
      const home = homeOf(f.home);
      if (f.foreground) await runForeground(home, f.port);
      else await runBackground(home, f.port);
    });

  program
    .command('down')
    .description('stop what `amber up` started (sandboxes are kept for the next `amber up`)')
    .option('--home <dir>', 'state directory (default: $AMBER_HOME or ~/.amber)')
    .action(async (f: { home?: string }) => {
      const home = homeOf(f.home);
      let stopped = false;
      for (const name of ['amber.pid', 'agent.pid']) {
        const pid = await readPid(join(home, name));
        if (!pid) continue;
        await withSpinner('stopping Amber', () => stopPid(pid));
        process.stdout.write(`stopped Amber (pid ${pid})\n`);
        stopped = true;
      }
      for (const name of ['amber.pid', 'agent.pid', 'url']) await rm(join(home, name), { force: true });
      if (!stopped) process.stdout.write('Amber is not running\n');
    });
}
