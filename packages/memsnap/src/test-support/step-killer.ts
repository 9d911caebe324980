// Imported first by crash-child.ts: counts the steps that change what a snapshot directory names (each
// rename and unlink memsnap makes through node:fs/promises) and, when AMBER_CRASH_AT_STEP=N, SIGKILLs the
// process just before step N. Sweeping N over every step kills a write at each point where its outcome
// can change, deterministically, where random instants only land there by luck.
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const fsp = require('node:fs/promises') as typeof import('node:fs/promises');
const killAt = Number(process.env.AMBER_CRASH_AT_STEP ?? 0);
let steps = 0;

function counted<F extends (...args: never[]) => Promise<unknown>>(fn: F): F {
  return ((...args: Parameters<F>) => {
    steps++;
    if (steps === killAt) process.kill(process.pid, 'SIGKILL');
    return fn(...args);
  }) as F;
}

fsp.rename = counted(fsp.rename);
fsp.unlink = counted(fsp.unlink);
syncBuiltinESMExports();

/** Steps taken so far (the child prints the total when it finishes). */
export function stepsTaken(): number {
  return steps;
}
