// Child process for crash-safety.test.ts: one write on a snapshot directory, to be SIGKILLed part way.
// argv: diff <dir> <ram file> <dirty ranges json> | merge <dir>
// Prints "ready" when about to start (the parent times its kill from there) and "done <ms> <steps>" at the
// end; with AMBER_CRASH_AT_STEP=N it kills itself before its Nth rename or unlink (step-killer.ts).

import { readFileSync } from 'node:fs';
import { openFileMemorySource } from '../memory-source.js';
import type { ByteRange } from '../ranges.js';
import { SnapshotDir } from '../snapshot-dir.js';
import { stepsTaken } from './step-killer.js';

const [mode, dir, ramPath, dirtyPath] = process.argv.slice(2);
if (!dir || (mode !== 'merge' && (mode !== 'diff' || !ramPath || !dirtyPath))) {
  throw new Error('usage: crash-child diff <dir> <ram> <dirty.json> | merge <dir>');
}
const snap = await SnapshotDir.open(dir);
const source = mode === 'diff' ? await openFileMemorySource(ramPath as string) : undefined;
const dirty = mode === 'diff' ? (JSON.parse(readFileSync(dirtyPath as string, 'utf8')) as ByteRange[]) : [];
process.stdout.write('ready\n');
const started = performance.now();
if (source) await snap.writeDiff(source, dirty);
else await snap.merge();
process.stdout.write(`done ${(performance.now() - started).toFixed(1)} ${stepsTaken()}\n`);
await source?.close();
