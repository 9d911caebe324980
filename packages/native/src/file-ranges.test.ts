import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyFileRange, copyFileRangeAsync, seekDataRanges } from './file-ranges.js';

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
