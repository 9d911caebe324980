import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export interface TestPostgres {
  /** postgres://... over a unix socket in the server's temp dir. */
  url: string;
  stop(): Promise<void>;
}

async function asPostgres(args: string[]): Promise<void> {
  // PostgreSQL refuses to run as root; tests here run as root, so the server runs as `postgres`.
  const argv = userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--', ...args] : args;
  await run(argv[0] as string, argv.slice(1), { timeout: 120_000 });
}

/** A real PostgreSQL server from Debian's package in a temp dir, listening only on a unix socket. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'amber-pg-'));
  if (userInfo().uid === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    const { stdout: gidOut } = await run('id', ['-g', 'postgres']);
    await chown(dir, uid, Number(gidOut.trim()));
  }
  const data = join(dir, 'data');
  await asPostgres([`${BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'amber', '--no-sync']);
  await asPostgres([
    `${BIN}/pg_ctl`,
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-o',
    `-k ${dir} -c listen_addresses= -F`,
    '-w',
    'start',
  ]);
  return {
    url: `postgres://amber@localhost/postgres?host=${encodeURIComponent(dir)}`,
    async stop() {
      await asPostgres([`${BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
