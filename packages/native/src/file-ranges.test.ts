import assert from 'node:assert/strict';
import {
  closeSync,
  fstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  allocate,
  copyFileRange,
  copyFileRangeAsync,
  copyRuns,
  type FileCopyRun,
  seekDataRanges,
} from './file-ranges.js';
import { rng } from './testing/rng.js';

const MiB = 1024 * 1024;

test('seekDataRanges finds the data extents of a sparse file', (t) => {
  // tmpfs reports holes at page granularity, so the answer is exact there.
  const path = `/dev/shm/amber-seek-${process.pid}`;
  t.after(() => rmSync(path, { force: true }));
  const fd = openSync(path, 'w+');
  try {
    writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 1 * MiB);
    writeSync(fd, Buffer.alloc(8192, 2), 0, 8192, 3 * MiB);
    writeSync(fd, Buffer.alloc(1, 0), 0, 1, 8 * MiB - 1); // sets the size; its page is data too
    assert.deepEqual(seekDataRanges(fd, 8 * MiB), [
      [1 * MiB, 1 * MiB + 4096],
      [3 * MiB, 3 * MiB + 8192],
      [8 * MiB - 4096, 8 * MiB],
    ]);
    assert.deepEqual(seekDataRanges(fd, 2 * MiB), [[1 * MiB, 1 * MiB + 4096]]);
  } finally {
    closeSync(fd);
  }
});

test('copyFileRange copies between offsets, sync and async', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'amber-cfr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = openSync(join(dir, 'src'), 'w+');
  const dst = openSync(join(dir, 'dst'), 'w+');
  try {
    const data = Buffer.from('0123456789abcdef'.repeat(1024));
    writeSync(src, data, 0, data.length, 0);
    assert.equal(copyFileRange(src, 16, dst, 0, 32), 32);
    assert.equal(await copyFileRangeAsync(src, 0, dst, 32, data.length), data.length);
    // Past the end of the source the copy is short, not an error.
    assert.equal(copyFileRange(src, data.length - 4, dst, 100000, 100), 4);
    const out = readFileSync(join(dir, 'dst'));
    assert.equal(out.subarray(0, 32).toString(), data.subarray(16, 48).toString());
    assert.ok(out.subarray(32, 32 + data.length).equals(data));
    assert.throws(() => copyFileRange(999999, 0, dst, 0, 1), { code: 'EBADF' });
  } finally {
    closeSync(src);
    closeSync(dst);
  }
});

test('allocate reserves blocks and sets the size', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'amber-alloc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, 'f'), 'w+');
  try {
    await allocate(fd, 0, 4 * MiB);
    const st = fstatSync(fd);
    assert.equal(st.size, 4 * MiB);
    assert.ok(st.blocks * 512 >= 4 * MiB, `only ${st.blocks} blocks reserved`);
    assert.ok(readFileSync(join(dir, 'f')).equals(Buffer.alloc(4 * MiB)));
    await assert.rejects(allocate(999999, 0, 4096), { code: 'EBADF' });
  } finally {
    closeSync(fd);
  }
});

test('copyRuns executes a plan over several inputs, with writeback, and stops at a short source', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'amber-runs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = Buffer.alloc(3 * MiB, 0xaa);
  const b = Buffer.alloc(MiB, 0xbb);
  a.write('start of a');
  b.write('start of b', 4096);
  const fa = openSync(join(dir, 'a'), 'w+');
  const fb = openSync(join(dir, 'b'), 'w+');
  const out = openSync(join(dir, 'out'), 'w+');
  try {
    writeSync(fa, a);
    writeSync(fb, b);
    const runs = [
      { input: 1, from: 4096, to: 0, length: 8192 },
      { input: 0, from: 0, to: 8192, length: 2 * MiB },
      { input: 1, from: 0, to: 8192 + 2 * MiB, length: 4096 },
    ];
    assert.equal(await copyRuns([fa, fb], runs, out, 64 * 1024), 3);
    const got = readFileSync(join(dir, 'out'));
    assert.equal(got.length, 8192 + 2 * MiB + 4096);
    assert.ok(got.subarray(0, 8192).equals(b.subarray(4096, 12288)));
    assert.ok(got.subarray(8192, 8192 + 2 * MiB).equals(a.subarray(0, 2 * MiB)));
    assert.ok(got.subarray(8192 + 2 * MiB).equals(b.subarray(0, 4096)));
    // The second run's source ends early: one run completed.
    const short = [runs[0] as (typeof runs)[0], { input: 1, from: MiB - 4096, to: 0, length: 8192 }];
    assert.equal(await copyRuns([fa, fb], short, out), 1);
    await assert.rejects(copyRuns([999999], [{ input: 0, from: 0, to: 0, length: 1 }], out), {
      code: 'EBADF',
    });
    assert.throws(() => copyRuns([fa], [{ input: 1, from: 0, to: 0, length: 1 }], out), /runs: bad value/);
  } finally {
    for (const fd of [fa, fb, out]) closeSync(fd);
  }
});

test('copyRuns: thousands of short runs from several files, gathered across windows, equal a reference', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'amber-runs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rand = rng(7);
  const page = 4096;
  const sources = [0, 1, 2].map((k) => {
    const buf = Buffer.alloc(4 * MiB);
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(Math.floor(rand() * 2 ** 32), i);
    const path = join(dir, `src${k}`);
    writeFileSync(path, buf);
    return { buf, fd: openSync(path, 'r') };
  });
  const out = openSync(join(dir, 'out'), 'w+');
  try {
    const runs: FileCopyRun[] = [];
    let to = 0;
    // Mostly short runs (gathered), some of 1-2 MiB (copied in-kernel), some skipping ahead in the output.
    while (to < 24 * MiB) {
      const input = Math.floor(rand() * 3);
      const pages = rand() < 0.005 ? 256 + Math.floor(rand() * 256) : 1 + Math.floor(rand() * 32);
      const from = Math.floor(rand() * (1024 - pages)) * page;
      if (rand() < 0.005) to += page * Math.floor(1 + rand() * 4);
      runs.push({ input, from, to, length: pages * page });
      to += pages * page;
    }
    assert.equal(
      await copyRuns(
        sources.map((s) => s.fd),
        runs,
        out,
        MiB,
      ),
      runs.length,
    );
    const want = Buffer.alloc(to);
    for (const r of runs)
      (sources[r.input] as (typeof sources)[0]).buf.copy(want, r.to, r.from, r.from + r.length);
    assert.ok(readFileSync(join(dir, 'out')).equals(want), `${runs.length} runs`);
  } finally {
    for (const s of sources) closeSync(s.fd);
    closeSync(out);
  }
});
