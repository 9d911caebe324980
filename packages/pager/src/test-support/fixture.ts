// Temp paths with guaranteed cleanup, and a quiet logger, for the pager's tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { destination, type Logger, pino } from 'pino';

export interface TestPaths {
  dir: string;
  /** A guest-RAM file path in /dev/shm (removed afterwards). */
  memPath: string;
  socketPath: string;
}

type AfterHook = { after: (fn: () => unknown) => void };

export function testPaths(t: AfterHook, name = 'pager'): TestPaths {
  const dir = mkdtempSync(join(tmpdir(), `amber-${name}-`));
  const memPath = `/dev/shm/amber-${name}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(memPath, { force: true });
  });
  return { dir, memPath, socketPath: join(dir, 'pager.sock') };
}

/** Silent unless AMBER_TEST_LOG names a level (e.g. AMBER_TEST_LOG=debug). */
export function testLogger(): Logger {
  return pino({ level: process.env.AMBER_TEST_LOG ?? 'silent' }, destination(2));
}

export function pagesOf(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const out: number[] = [];
  for (const [s, e] of ranges) for (let p = s / 4096; p < e / 4096; p++) out.push(p);
  return out;
}
