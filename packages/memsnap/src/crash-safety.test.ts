// Crash safety: a diff write and a MergeDiffs run in a child process that is SIGKILLed at random
// instants. Afterwards the directory must verify and read exactly the old or the new memory, never a mix;
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
const KILLS = 50;
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

/** Runs the child on `dir`; kills it `killAfterMs` after it reports ready (never, if undefined). */
function runChild(
  bundle: string,
  args: string[],
  killAfterMs: number | undefined,
): Promise<{ killed: boolean; ms?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
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
      const ms = /done ([\d.]+)/.exec(out)?.[1];
      resolve({ killed: false, ...(ms === undefined ? {} : { ms: Number(ms) }) });
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
  const { ms = 50 } = await runChild(bundle, args(calib), undefined);
  const done = await SnapshotDir.open(calib);
  assert.ok(isNew((await done.header()) as Header));
  assert.ok((await done.read(0, SIZE)).equals(expectedNew));

  const rand = prng(seed + 1);
  const tally = { old: 0, new: 0, leftovers: 0, killed: 0 };
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const dir = join(root, `kill-${i}`);
    await cloneSnapshotDir(tpl.dir, dir);
    // Spread past the measured duration: children under load run slower than the calibration did.
    const delay = rand() * ms * 1.6;
    const { killed } = await runChild(bundle, args(dir), delay);
    if (killed) tally.killed++;
    const snap = await SnapshotDir.open(dir);
    const where = `kill ${i} after ${delay.toFixed(1)} ms`;
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
  };
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < KILLS) await one(next++);
    }),
  );
  t.diagnostic(`${mode}: write takes ~${ms} ms; ${JSON.stringify(tally)}`);
  assert.ok(
    tally.killed >= KILLS * 0.6,
    `most children were killed before finishing: ${JSON.stringify(tally)}`,
  );
  assert.ok(
    tally.old > 0 && tally.new > 0,
    `kills landed before and after the commit: ${JSON.stringify(tally)}`,
  );
  assert.ok(tally.leftovers > 0, `some kills landed mid-write (leftovers seen): ${JSON.stringify(tally)}`);
  // The template the clones share files with is intact.
  assert.ok((await (await SnapshotDir.open(tpl.dir)).read(0, SIZE)).equals(tpl.old));
}

test('a diff write killed at 50 random instants leaves the old or the new snapshot', async (t) => {
  await killRepeatedly(t, 'diff');
});

test('a MergeDiffs killed at 50 random instants leaves the old or the new snapshot', async (t) => {
  await killRepeatedly(t, 'merge');
});
