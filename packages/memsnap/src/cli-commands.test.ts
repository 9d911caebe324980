// `amber memsnap ...` run as a child process, the way a person would, on a real snapshot directory.
// (The test lives here because it checks memsnap's files from outside; the commands are in packages/cli.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ZERO_BUILD_ID } from './build-id.js';
import { bufferMemorySource } from './memory-source.js';
import { SnapshotDir } from './snapshot-dir.js';
import { fillRandom, prng, tempDir } from './test-support/fixture.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const K = 4096;

function amber(...args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=amber-source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "import { main } from '@amber/cli'; await main(['node', 'amber', ...process.argv.slice(1)]);",
      '--',
      ...args,
    ],
    { cwd: root, maxBuffer: 64 << 20 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

test('amber memsnap inspect / verify / read / merge on a real snapshot directory', async (t) => {
  const dir = tempDir(t);
  const snap = await SnapshotDir.open(dir);
  const mem = Buffer.alloc(64 * K);
  fillRandom(mem.subarray(0, 40 * K), prng(11));
  await snap.writeBase(bufferMemorySource(mem));
  fillRandom(mem.subarray(10 * K, 12 * K), prng(12));
  mem.fill(0, 20 * K, 21 * K);
  const h = await snap.writeDiff(bufferMemorySource(mem), [
    [10 * K, 12 * K],
    [20 * K, 21 * K],
  ]);

  const inspect = amber('memsnap', 'inspect', snap.headerPath, '--json');
  assert.equal(inspect.status, 0, inspect.stderr);
  const json = JSON.parse(inspect.stdout.toString());
  assert.deepEqual(Object.keys(json), [
    'version',
    'blockSize',
    'size',
    'generation',
    'buildId',
    'baseBuildId',
    'mappings',
  ]);
  assert.deepEqual(Object.keys(json.mappings[0]), ['offset', 'length', 'buildId', 'storageOffset']);
  assert.deepEqual(json, h);

  const text = amber('memsnap', 'inspect', snap.headerPath);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout.toString(), new RegExp(`generation 1[\\s\\S]*${h.buildId}[\\s\\S]*zero`));

  const verify = amber('memsnap', 'verify', dir);
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout.toString(), /^ok: .*generation 1/);

  const read = amber('memsnap', 'read', dir, '--offset', String(9 * K + 100), '--length', '0x2100');
  assert.equal(read.status, 0, read.stderr);
  assert.ok(read.stdout.equals(mem.subarray(9 * K + 100, 9 * K + 100 + 0x2100)));
  const all = amber('memsnap', 'read', dir, '--offset', '0', '--length', String(mem.length));
  assert.ok(all.stdout.equals(mem));

  const outside = amber('memsnap', 'read', dir, '--offset', String(63 * K), '--length', String(2 * K));
  assert.notEqual(outside.status, 0);
  assert.equal(outside.stdout.length, 0);
  assert.match(outside.stderr, /\[bad_range\]/);

  const merge = amber('memsnap', 'merge', dir);
  assert.equal(merge.status, 0, merge.stderr);
  assert.match(merge.stdout.toString(), /generation 1 -> 0/);
  const merged = (await snap.header())!;
  assert.equal(merged.generation, 0);
  assert.deepEqual(await snap.read(0, mem.length), mem);
  assert.deepEqual(readdirSync(dir).sort(), ['memfile.header', `memfile.${merged.buildId}`].sort());
  assert.ok(merged.mappings.some((m) => m.buildId === ZERO_BUILD_ID));

  // A broken directory: verify exits non-zero and says why.
  truncateSync(snap.dataFilePath(merged.buildId), K);
  const broken = amber('memsnap', 'verify', dir);
  assert.notEqual(broken.status, 0);
  assert.match(broken.stderr, /\[short_data_file\].*memfile\..*mapping \d+ at offset/);
  const badHeader = amber('memsnap', 'inspect', join(dir, 'memfile.missing'));
  assert.notEqual(badHeader.status, 0);
  assert.match(badHeader.stderr, /memfile\.missing/);
});
