// Overlays made from a kept blank must be exactly what qemu-img writes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { backingFileName, createOverlay } from './disk-chain.js';

const dir = mkdtempSync(join(tmpdir(), 'amber-disk-chain-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function qemuImgOverlay(path: string, backing: string, format: string, size: number): Buffer {
  execFileSync('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    backing,
    '-F',
    format,
    '-u',
    path,
    String(size),
  ]);
  return readFileSync(path);
}

test('overlays of one shape are byte for byte what qemu-img makes, each naming its own backing', async () => {
  const rootfs = join(dir, 'rootfs.ext4');
  writeFileSync(rootfs, Buffer.alloc(8 << 20));
  const layers = [randomUUID(), randomUUID(), randomUUID()].map((id) => join(dir, `disk.${id}.qcow2`));
  await createOverlay(layers[0] as string, rootfs, 'raw');
  for (let i = 1; i < layers.length; i++) {
    const layer = layers[i] as string;
    const below = layers[i - 1] as string;
    await createOverlay(layer, below, 'qcow2');
    const name = below.slice(dir.length + 1);
    assert.equal(await backingFileName(layer), name);
    const expected = qemuImgOverlay(join(dir, 'expected.qcow2'), name, 'qcow2', 8 << 20);
    assert.ok(readFileSync(layer).equals(expected), `${layer} differs from qemu-img's overlay`);
  }
  const top = layers.at(-1) as string;
  execFileSync('qemu-img', ['check', '-q', top]);
  const info = JSON.parse(
    execFileSync('qemu-img', ['info', '--backing-chain', '--output=json', top], { encoding: 'utf8' }),
  );
  assert.equal(info.length, layers.length + 1, 'the whole chain down to the raw base resolves');
});

test('a raw base of another size gets its own overlay shape', async () => {
  const small = join(dir, 'small.raw');
  const large = join(dir, 'large.raw');
  writeFileSync(small, Buffer.alloc(1 << 20));
  writeFileSync(large, Buffer.alloc(4 << 20));
  await createOverlay(join(dir, 'a.qcow2'), small, 'raw');
  await createOverlay(join(dir, 'b.qcow2'), large, 'raw');
  const info = JSON.parse(
    execFileSync('qemu-img', ['info', '--output=json', join(dir, 'b.qcow2')], { encoding: 'utf8' }),
  );
  assert.equal(info['virtual-size'], 4 << 20);
});
