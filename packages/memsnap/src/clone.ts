// Templates and forks: a new snapshot directory sharing the source's data files by hard link. Data files
// are immutable once committed (a new generation always gets a new name), so sharing them is safe, and
// the link count is what keeps a template's blocks alive while a clone still reads them.
import { link, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { copyFileDurably, fsyncDir, replaceFileDurably } from './durable-fs.js';
import { MemsnapError } from './errors.js';
import type { Header } from './header.js';
import { parseHeader } from './header-codec.js';
import { dataFileName, HEADER_FILE, referencedBuildIds } from './layout.js';
import { SnapshotDir } from './snapshot-dir.js';

/**
 * Makes `dst` (created if missing; other files in it are left alone) a snapshot with `src`'s committed
 * state: data files linked (copied only across filesystems), then the header copied last, which is the
 * commit. Refuses a `dst` that already has a header.
 */
export async function cloneSnapshotDir(src: string, dst: string): Promise<Header> {
  const from = await SnapshotDir.open(src);
  const { header } = await from.verify();
  // The exact committed bytes are copied, not re-serialized: a clone is the same snapshot.
  const headerBytes = await readFile(from.headerPath);
  parseHeader(headerBytes, { file: from.headerPath });
  await mkdir(dst, { recursive: true });
  const target = await SnapshotDir.open(dst);
  if (
    await stat(target.headerPath).then(
      () => true,
      () => false,
    )
  ) {
    throw new MemsnapError('already_exists', `${target.headerPath}: ${dst} already holds a snapshot`, {
      file: target.headerPath,
    });
  }
  for (const id of referencedBuildIds(header)) {
    const name = dataFileName(id);
    const source = join(src, name);
    // The generation's own file may be absent when it holds no blocks (e.g. copied by another tool).
    if (
      !(await stat(source).then(
        () => true,
        () => false,
      ))
    )
      continue;
    await shareFile(source, dst, name);
  }
  await fsyncDir(dst);
  await replaceFileDurably(dst, HEADER_FILE, headerBytes);
  return header;
}

async function shareFile(source: string, dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  try {
    await link(source, path);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      const [a, b] = await Promise.all([stat(source), stat(path)]);
      if (a.ino === b.ino && a.dev === b.dev) return;
      // dst has no header, so a same-named file there is an uncommitted leftover: replace it.
      await unlink(path);
      return shareFile(source, dir, name);
    }
    if (code !== 'EXDEV' && code !== 'EPERM') throw err;
  }
  // Another filesystem (or no hard links allowed): a durable copy instead.
  await copyFileDurably(source, dir, name);
}
