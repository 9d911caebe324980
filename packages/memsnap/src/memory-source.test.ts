import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bufferMemorySource, openFileMemorySource, readFull } from './memory-source.js';
import { tempDir } from './test-support/fixture.js';

const K = 4096;

test('a RAM file: data extents from SEEK_DATA, zeros past its end when size says so', async (t) => {
  const path = join(tempDir(t), 'ram');
  const fd = openSync(path, 'w');
  ftruncateSync(fd, 64 * K);
  writeSync(fd, Buffer.alloc(2 * K, 0xab), 0, 2 * K, 10 * K);
  closeSync(fd);
  const source = await openFileMemorySource(path, { size: 128 * K });
  t.after(() => source.close());
  assert.equal(source.size, 128 * K);
  const ranges = await source.dataRanges?.();
  assert.ok(ranges);
  // The filesystem may round extents out, but never misses the data and never reports the holes' bulk.
  const covered = ranges.reduce((n, [s, e]) => n + (e - s), 0);
  assert.ok(ranges.some(([s, e]) => s <= 10 * K && e >= 12 * K) && covered < 32 * K, JSON.stringify(ranges));
  const buf = Buffer.alloc(8 * K, 1);
  await readFull(source, buf, 60 * K); // last 4 KiB of the file, then 4 KiB past its end
  assert.ok(buf.every((b) => b === 0));
  await readFull(source, buf, 8 * K);
  assert.deepEqual(buf, Buffer.concat([Buffer.alloc(2 * K), Buffer.alloc(2 * K, 0xab), Buffer.alloc(4 * K)]));
  const defaultSize = await openFileMemorySource(path);
  await defaultSize.close();
  assert.equal(defaultSize.size, 64 * K, 'size defaults to the file length');
});

test('a Buffer source reads short at its end; readFull zero-fills', async () => {
  const mem = Buffer.alloc(3 * K, 7);
  const source = bufferMemorySource(mem);
  const buf = Buffer.alloc(2 * K, 1);
  assert.equal(await source.read(buf, 2 * K), K);
  await readFull(source, buf, 2 * K);
  assert.deepEqual(buf, Buffer.concat([Buffer.alloc(K, 7), Buffer.alloc(K)]));
});
