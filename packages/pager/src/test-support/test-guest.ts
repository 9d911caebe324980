// Builds the bare-metal test guest (test-guest/: multiboot ELF, no Linux) with the host's gcc.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sourceDir = fileURLToPath(new URL('../../test-guest/', import.meta.url));

/** Compiles the guest into `dir` and returns the ELF's path. */
export function buildTestGuest(dir: string): string {
  const out = join(dir, 'guest.elf');
  execFileSync('gcc', [
    '-m32',
    '-ffreestanding',
    '-nostdlib',
    '-static',
    '-fno-pic',
    '-no-pie',
    '-fno-stack-protector',
    '-O2',
    `-Wl,-T,${join(sourceDir, 'link.ld')}`,
    '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments',
    '-o',
    out,
    join(sourceDir, 'boot.S'),
    join(sourceDir, 'guest.c'),
  ]);
  return out;
}

/** Serial-log lines "count=<n> ok" as numbers, and any FAIL line. */
export function parseSerial(log: string): { counts: number[]; failure: string | undefined } {
  const counts: number[] = [];
  let failure: string | undefined;
  for (const line of log.split('\n')) {
    const m = /^count=(\d+) ok$/.exec(line);
    if (m) counts.push(Number(m[1]));
    if (line.startsWith('FAIL')) failure = line;
  }
  return { counts, failure };
}
