// memsnap: MergeDiffs throughput against `cp` of the same bytes, and header lookup latency.
// A 256 MiB memory gets a generation 0 (from a sparse RAM file, ~70% of pages populated) and 9 diffs, each
// rewriting ~2% of the pages in scattered runs of 1-16 pages (a tenth of them zeroed): a 10-generation
// chain. Each round merges a hard-link clone of that chain (so every round starts from the same chain)
// and, alternately, `cp`s a file holding as many bytes as the merge writes, on the same filesystem
// (os.tmpdir()), both sources hot in the page cache. Medians of ROUNDS.
// merge() is durable (fsync, rename, directory fsync, old files deleted) and cp is not, so a second line
// also compares with `cp` followed by an fsync of the copy (coreutils `sync FILE`).

import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bufferMemorySource,
  cloneSnapshotDir,
  type Header,
  HeaderIndex,
  openFileMemorySource,
  SnapshotDir,
  ZERO_BUILD_ID,
} from '@amber/memsnap';
import { rng } from '@amber/native/testing';
import { median, progress, report } from './lib/report.js';

const SIZE = 256 << 20;
const PAGE = 4096;
const PAGES = SIZE / PAGE;
const DIFFS = 9;
const ROUNDS = 11;
const LOOKUPS = 2_000_000;
const MiB = 1 << 20;

const rand = rng(12345);
const pool = Buffer.alloc(4 * MiB);
for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(Math.floor(rand() * 4294967296), i);
let stamp = 0;
/** Distinct non-zero pages, fast: a slice of a random pool stamped with a counter. */
function fillPages(buf: Buffer): void {
  for (let off = 0; off < buf.length; off += PAGE) {
    const from = Math.floor(rand() * (pool.length / PAGE - 1)) * PAGE;
    pool.copy(buf, off, from, from + PAGE);
    buf.writeDoubleLE(++stamp, off);
  }
}

const root = mkdtempSync(join(tmpdir(), 'amber-bench-memsnap-'));
try {
  // Generation 0 from a sparse RAM file: populated regions in runs, holes between them.
  const mem = Buffer.alloc(SIZE);
  const ram = join(root, 'ram');
  const fd = openSync(ram, 'w');
  ftruncateSync(fd, SIZE);
  for (let p = 0; p < PAGES; ) {
    const n = Math.min(PAGES - p, 1 + Math.floor(rand() * 256));
    if (rand() < 0.7) {
      const run = mem.subarray(p * PAGE, (p + n) * PAGE);
      fillPages(run);
      writeSync(fd, run, 0, run.length, p * PAGE);
    }
    p += n;
  }
  closeSync(fd);
  const chain = join(root, 'chain');
  execFileSync('mkdir', [chain]);
  const snap = await SnapshotDir.open(chain);
  const source = await openFileMemorySource(ram);
  let t = performance.now();
  await snap.writeBase(source);
  await source.close();
  progress(`generation 0: ${(performance.now() - t).toFixed(0)} ms`);
  rmSync(ram);

  for (let g = 1; g <= DIFFS; g++) {
    const dirty: Array<[number, number]> = [];
    for (let covered = 0; covered < PAGES * 0.02; ) {
      const start = Math.floor(rand() * PAGES);
      const n = Math.min(PAGES - start, 1 + Math.floor(rand() * 16));
      const run = mem.subarray(start * PAGE, (start + n) * PAGE);
      if (rand() < 0.1) run.fill(0);
      else fillPages(run);
      dirty.push([start * PAGE, (start + n) * PAGE]);
      covered += n;
    }
    t = performance.now();
    await snap.writeDiff(bufferMemorySource(mem), dirty);
    progress(`generation ${g}: ${dirty.length} dirty runs, ${(performance.now() - t).toFixed(0)} ms`);
  }
  const header = (await snap.header()) as Header;
  const bytes = header.mappings.reduce((s, m) => (m.buildId === ZERO_BUILD_ID ? s : s + m.length), 0);
  progress(
    `chain: generation ${header.generation}, ${header.mappings.length} mappings, ${bytes / MiB} MiB of data`,
  );

  // The cp baseline's source: the same number of bytes, written and synced like the chain's files were.
  const cpSource = join(root, 'cp-source');
  const cfd = openSync(cpSource, 'w');
  for (let off = 0; off < bytes; off += pool.length)
    writeSync(cfd, pool, 0, Math.min(pool.length, bytes - off), off);
  closeSync(cfd);
  execFileSync('sync', [cpSource]);

  const mergeMs: number[] = [];
  const cpMs: number[] = [];
  const cpSyncMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const copy = join(root, 'cp-copy');
    // Every timed step starts with no writeback pending from the step before it.
    execFileSync('sync');
    t = performance.now();
    execFileSync('cp', [cpSource, copy]);
    cpMs.push(performance.now() - t);
    rmSync(copy);
    execFileSync('sync');
    t = performance.now();
    execFileSync('cp', [cpSource, copy]);
    execFileSync('sync', [copy]);
    cpSyncMs.push(performance.now() - t);
    rmSync(copy);

    const dir = join(root, `merge-${round}`);
    await cloneSnapshotDir(chain, dir);
    const clone = await SnapshotDir.open(dir);
    execFileSync('sync');
    t = performance.now();
    await clone.merge();
    mergeMs.push(performance.now() - t);
    rmSync(dir, { recursive: true });
    progress(
      `round ${round + 1}/${ROUNDS}: merge ${mergeMs.at(-1)?.toFixed(0)} ms, cp ${cpMs.at(-1)?.toFixed(0)} ms, ` +
        `cp+fsync ${cpSyncMs.at(-1)?.toFixed(0)} ms`,
    );
  }
  const rate = (ms: number) => bytes / MiB / (ms / 1000);
  const merge = rate(median(mergeMs));
  const cp = rate(median(cpMs));
  const cpSync = rate(median(cpSyncMs));
  report('merge_mib_per_s', merge, 'MiB/s', { value: cp, ratio: merge / cp });
  report('merge_mib_per_s_vs_durable_cp', merge, 'MiB/s', { value: cpSync, ratio: merge / cpSync });

  // Lookups on the chain's header (fragmented by nine scattered diffs), at random offsets.
  const index = new HeaderIndex(header);
  const offsets = new Float64Array(LOOKUPS);
  for (let i = 0; i < LOOKUPS; i++) offsets[i] = Math.floor(rand() * SIZE);
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink += index.lookup(offsets[i] as number).runLength; // warm up
  t = performance.now();
  for (let i = 0; i < LOOKUPS; i++) sink += index.lookup(offsets[i] as number).runLength;
  const ns = ((performance.now() - t) * 1e6) / LOOKUPS;
  progress(`${LOOKUPS} lookups over ${header.mappings.length} mappings (checksum ${sink % 1000})`);
  report('header_lookup_ns', ns, 'ns');
} finally {
  rmSync(root, { recursive: true, force: true });
}
