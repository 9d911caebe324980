// Crash safety: a diff write and a MergeDiffs run in a child process that is SIGKILLed before each of its
// renames and unlinks in turn (every point where the outcome can change), then at random instants. Afterwards the directory must verify and read exactly the old or the new memory, never a mix;
// its leftovers must be garbage only, and collecting them must change nothing.
// (SIGKILL keeps the page cache, so this proves the ordering of renames and deletes, not fsync itself.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cloneSnapshotDir } from './clone.js';
import type { Header } from './header.js';
import { bufferMemorySource } from './memory-source.js';
import { isZero } from './pack-blocks.js';
import type { ByteRange } from './ranges.js';
import { SnapshotDir } from './snapshot-dir.js';
import { bundleChild } from './test-support/bundle-child.js';
import { fillRandom, prng, propertySeed, tempDir } from './test-support/fixture.js';

const SIZE = 16 << 20;
const PAGE = 4096;
const PAGES = SIZE / PAGE;
const KILLS = 30;
/** Two cores: more children at once only slows each one's start-up. */
const PARALLEL = 2;
const CHILD = fileURLToPath(new URL('./test-support/crash-child.ts', import.meta.url));
const seed = propertySeed(99173);

/** Distinct page contents, fast: a slice of a random pool stamped with a counter. */
const pool = Buffer.alloc(1 << 20);
fillRandom(pool, prng(seed));
let stamp = 0;
function fillPage(page: Buffer, rand: () => number): void {
  for (let off = 0; off < page.length; off += PAGE) {
    const from = Math.floor(rand() * (pool.length - PAGE));
    pool.copy(page, off, from, from + PAGE);
    page.writeDoubleLE(++stamp, off);
  }
}

/** Rewrites ~`share` of the pages in runs of 1-32 pages (a tenth of them to zero); returns the runs. */
function scribble(mem: Buffer, rand: () => number, share: number): ByteRange[] {
  const dirty: ByteRange[] = [];
  let covered = 0;
  while (covered < PAGES * share) {
    const start = Math.floor(rand() * PAGES);
    const n = Math.min(PAGES - start, 1 + Math.floor(rand() * 32));
    const bytes = mem.subarray(start * PAGE, (start + n) * PAGE);
    if (rand() < 0.1) bytes.fill(0);
    else fillPage(bytes, rand);
    dirty.push([start * PAGE, (start + n) * PAGE]);
    covered += n;
  }
  return dirty;
}

interface Template {
  dir: string;
  header: Header;
  old: Buffer;
  /** For the diff: the new memory as a sparse RAM file, and the dirty ranges as JSON. */
  next: Buffer;
  ramPath: string;
  dirtyPath: string;
}

async function makeTemplate(root: string): Promise<Template> {
  const rand = prng(seed);
  const mem = Buffer.alloc(SIZE);
  for (let p = 0; p < PAGES; p++) if (rand() < 0.7) fillPage(mem.subarray(p * PAGE, (p + 1) * PAGE), rand);
  const dir = join(root, 'template');
  mkdirSync(dir);
  const snap = await SnapshotDir.open(dir);
  await snap.writeBase(bufferMemorySource(mem));
  for (let g = 0; g < 4; g++) await snap.writeDiff(bufferMemorySource(mem), scribble(mem, rand, 0.1));
  const header = (await snap.header()) as Header;
  const old = Buffer.from(mem);
  const dirty = scribble(mem, rand, 0.3);
  const ramPath = join(root, 'ram');
  const fd = openSync(ramPath, 'w');
  ftruncateSync(fd, SIZE);
  for (let p = 0; p < PAGES; p++)
    if (!isZero(mem, p * PAGE, (p + 1) * PAGE)) writeSync(fd, mem, p * PAGE, PAGE, p * PAGE);
  closeSync(fd);
  const dirtyPath = join(root, 'dirty.json');
  writeFileSync(dirtyPath, JSON.stringify(dirty));
  return { dir, header, old, next: mem, ramPath, dirtyPath };
}

/**
 * Runs the child on `dir`; kills it `killAfterMs` after it reports ready (never, if undefined), or has it
 * kill itself before its `atStep`th rename or unlink.
 */
function runChild(
  bundle: string,
  args: string[],
  killAfterMs: number | undefined,
  atStep = 0,
): Promise<{ killed: boolean; ms?: number; steps?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AMBER_CRASH_AT_STEP: String(atStep) },
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAfterMs !== undefined && timer === undefined && out.includes('ready\n')) {
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') return resolve({ killed: true });
      if (code !== 0) return reject(new Error(`crash child exited ${code}: ${err}`));
      const done = /done ([\d.]+) (\d+)/.exec(out);
      resolve({ killed: false, ...(done && { ms: Number(done[1]), steps: Number(done[2]) }) });
    });
  });
}

async function killRepeatedly(t: TestContext, mode: 'diff' | 'merge'): Promise<void> {
  const root = tempDir(t, `memsnap-crash-${mode}-`);
  const tpl = await makeTemplate(root);
  const bundle = await bundleChild(CHILD, root);
  const args = (dir: string) =>
    mode === 'diff' ? ['diff', dir, tpl.ramPath, tpl.dirtyPath] : ['merge', dir];
  const isNew = (h: Header) =>
    mode === 'diff' ? h.generation === tpl.header.generation + 1 : h.generation === 0;
  const expectedNew = mode === 'diff' ? tpl.next : tpl.old;

  // An uninterrupted run gives the new state and the time a write takes, so kills can be spread over it.
  const calib = join(root, 'calibration');
  await cloneSnapshotDir(tpl.dir, calib);
  const { ms = 50, steps = 0 } = await runChild(bundle, args(calib), undefined);
  assert.ok(steps >= 2, `the write renames its files into place (${steps} steps)`);
  const done = await SnapshotDir.open(calib);
  assert.ok(isNew((await done.header()) as Header));
  assert.ok((await done.read(0, SIZE)).equals(expectedNew));

  const tally = { old: 0, new: 0, leftovers: 0, killed: 0 };
  /** Checks a killed write's directory: old or new memory, garbage only, gc changes nothing. */
  const check = async (dir: string, where: string): Promise<'old' | 'new'> => {
    const snap = await SnapshotDir.open(dir);
    const { header } = await snap.verify();
    const bytes = await snap.read(0, SIZE);
    let state: 'old' | 'new';
    if (header.buildId === tpl.header.buildId) {
      assert.deepEqual(header, tpl.header, where);
      assert.ok(bytes.equals(tpl.old), `${where}: the old header reads the old memory`);
      state = 'old';
    } else {
      assert.ok(isNew(header), `${where}: generation ${header.generation}`);
      assert.ok(bytes.equals(expectedNew), `${where}: the new header reads the new memory`);
      state = 'new';
    }
    tally[state]++;
    const garbage = await snap.garbage();
    if (garbage.length > 0) tally.leftovers++;
    assert.deepEqual(await snap.collectGarbage(), garbage);
    await snap.verify();
    assert.ok(
      (await snap.read(0, SIZE)).equals(state === 'old' ? tpl.old : expectedNew),
      `${where}: after gc`,
    );
    assert.deepEqual(await snap.garbage(), []);
    return state;
  };

  // Before each step in turn: the first kills leave the old snapshot, the last ones the new, and the
  // ones between the data files' renames and the header's leave files no header names.
  const outcomes: string[] = [];
  for (let step = 1; step <= steps; step++) {
    const dir = join(root, `step-${step}`);
    await cloneSnapshotDir(tpl.dir, dir);
    const { killed } = await runChild(bundle, args(dir), undefined, step);
    assert.ok(killed, `the child reached step ${step} of ${steps}`);
    outcomes.push(await check(dir, `killed before step ${step}`));
  }
  assert.equal(outcomes[0], 'old', 'killed before its first rename, the write left the old snapshot');
  // A diff's last step is its header's rename (the commit); a merge deletes the old files after it.
  if (mode === 'merge') assert.equal(outcomes.at(-1), 'new', 'killed while deleting old files: committed');
  const switched = outcomes.includes('new') ? outcomes.indexOf('new') : outcomes.length;
  assert.ok(
    outcomes.slice(0, switched).every((o) => o === 'old') &&
      outcomes.slice(switched).every((o) => o === 'new'),
    `old until the commit, new from then on: ${outcomes.join(' ')}`,
  );
  assert.ok(tally.leftovers > 0, `steps before the commit leave garbage: ${JSON.stringify(tally)}`);

  // And at random instants, which also land inside writes and fsyncs (no guarantee where: checked only).
  const rand = prng(seed + 1);
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const dir = join(root, `kill-${i}`);
    await cloneSnapshotDir(tpl.dir, dir);
    const delay = rand() * ms * 1.6;
    const { killed } = await runChild(bundle, args(dir), delay);
    if (killed) tally.killed++;
    await check(dir, `kill ${i} after ${delay.toFixed(1)} ms`);
  };
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < KILLS) await one(next++);
    }),
  );
  t.diagnostic(
    `${mode}: write takes ~${ms} ms in ${steps} steps (${outcomes.join(' ')}); ${JSON.stringify(tally)}`,
  );
  // The template the clones share files with is intact.
  assert.ok((await (await SnapshotDir.open(tpl.dir)).read(0, SIZE)).equals(tpl.old));
}

test('a diff write killed before each step and at random instants leaves the old or the new snapshot', async (t) => {
  await killRepeatedly(t, 'diff');
});

test('a MergeDiffs killed before each step and at random instants leaves the old or the new snapshot', async (t) => {
  await killRepeatedly(t, 'merge');
});
