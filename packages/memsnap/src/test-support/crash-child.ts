// Child process for crash-safety.test.ts: one write on a snapshot directory, to be SIGKILLed part way.
// argv: diff <dir> <ram file> <dirty ranges json> | merge <dir>
// Prints "ready" when about to start (the parent times its kill from there) and "done <ms>" at the end.
import { readFileSync } from 'node:fs';
import { openFileMemorySource } from '../memory-source.js';
import type { ByteRange } from '../ranges.js';
import { SnapshotDir } from '../snapshot-dir.js';

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
process.stdout.write(`done ${(performance.now() - started).toFixed(1)}\n`);
await source?.close();
