// qcow2 layers of a snapshot directory. Backing files are named relative to the layer, so a whole chain can
// be hard-linked into another directory (a template, a fork) and still resolve there.
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { run } from '../commands.js';
import { AgentError } from '../errors.js';
import { fsyncDir, fsyncFile } from './fsync.js';

const QCOW2_MAGIC = 0x514649fb;

async function qemuImg(args: string[]): Promise<void> {
  await run('qemu-img', args, undefined, `qemu-img ${args[0]}`);
}

/** The backing file a qcow2 names in its header (as written), or undefined for a base layer. */
export async function backingFileName(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(32);
    await handle.read(head, 0, 32, 0);
    if (head.readUInt32BE(0) !== QCOW2_MAGIC)
      throw new AgentError('internal', `${path} is not a qcow2 image`);
    const offset = Number(head.readBigUInt64BE(8));
    const size = head.readUInt32BE(16);
    if (offset === 0 || size === 0) return undefined;
    const name = Buffer.alloc(size);
    await handle.read(name, 0, size, offset);
    return name.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The qcow2 layers from `top` down that live in the same directory (the image's rootfs is outside). */
export async function localChain(top: string): Promise<string[]> {
  const chain: string[] = [];
  let current: string | undefined = top;
  while (current) {
    chain.push(current);
    const backing: string | undefined = await backingFileName(current);
    if (!backing || isAbsolute(backing) || backing.includes('/')) break;
    current = join(dirname(current), backing);
  }
  return chain;
}

/**
 * An empty overlay is a function of its backing's name, format and size, and qemu-img takes ~9 ms to write
 * one, on the critical path of every restore. So the first overlay of each shape is kept, and later ones
 * are a copy with the backing name swapped: a shape includes the name's length, and layer names of one
 * directory have one length (they end in a UUID). The test checks the copy against qemu-img's own output.
 */
const blankOverlays = new Map<string, { bytes: Buffer; nameOffset: number }>();
const MAX_BLANK_OVERLAYS = 32;

export async function createOverlay(
  path: string,
  backing: string,
  backingFormat: 'raw' | 'qcow2',
): Promise<void> {
  // Relative when the backing sits beside the overlay; -u: the backing may be open for writing by QEMU.
  const name = dirname(backing) === dirname(path) ? basename(backing) : backing;
  // Synchronous: a 32-byte read and a ~200 KiB write to the page cache take well under a millisecond, while
  // each hop through libuv's thread pool, busy with the restore's other files, cost 1-3 ms of a restore.
  const size = backingFormat === 'qcow2' ? virtualSize(backing) : statSync(backing).size;
  const shape = `${backingFormat}:${size}:${Buffer.byteLength(name)}`;
  const blank = blankOverlays.get(shape);
  if (blank) {
    const bytes = Buffer.from(blank.bytes);
    bytes.write(name, blank.nameOffset, 'utf8');
    writeFileSync(path, bytes);
    return;
  }
  await qemuImg(['create', '-q', '-f', 'qcow2', '-b', name, '-F', backingFormat, '-u', path, String(size)]);
  const bytes = await readFile(path);
  const nameOffset = Number(bytes.readBigUInt64BE(8));
  if (bytes.toString('utf8', nameOffset, nameOffset + Buffer.byteLength(name)) !== name) return;
  if (blankOverlays.size >= MAX_BLANK_OVERLAYS)
    blankOverlays.delete(blankOverlays.keys().next().value as string);
  blankOverlays.set(shape, { bytes, nameOffset });
}

function virtualSize(qcow2: string): number {
  const fd = openSync(qcow2, 'r');
  try {
    const head = Buffer.alloc(32);
    readSync(fd, head, 0, 32, 0);
    return Number(head.readBigUInt64BE(24));
  } finally {
    closeSync(fd);
  }
}

/**
 * Folds the chain under `top` into one new layer at `dest`, on the same base image the chain stands on (the
 * image it booted from, which may not be today's). Only the clusters the sandbox wrote are copied, so the
 * cost follows what it wrote, not the disk's size.
 */
export async function collapseChain(top: string, dest: string): Promise<void> {
  const layers = await localChain(top);
  const bottom = layers.at(-1) as string;
  const base = await backingFileName(bottom);
  if (!base || !isAbsolute(base))
    throw new AgentError('internal', `${bottom} does not stand on a base image`);
  const tmp = join(dirname(dest), `.tmp-${basename(dest)}`);
  await qemuImg(['convert', '-q', '-O', 'qcow2', '-B', base, '-F', 'raw', top, tmp]);
  await fsyncFile(tmp);
  await rename(tmp, dest);
  await fsyncDir(dirname(dest));
}
