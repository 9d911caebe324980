// The crash-safety primitives. A file becomes visible under its real name only after its bytes are on
// disk (write to a temp name, fsync, rename), and a rename is durable only once the directory is fsynced.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Every temp file memsnap writes is named `.tmp-memfile.<final name suffix>.<random>`: distinct from other
 * code's temp files in the same directory, so garbage collection removes only memsnap's own leftovers.
 */
export const TEMP_PREFIX = '.tmp-memfile.';

export function tempName(finalName: string): string {
  // finalName is memfile.<something>; the temp keeps the <something> to show what was being written.
  return `${TEMP_PREFIX}${finalName.replace(/^memfile\./, '')}.${randomBytes(6).toString('hex')}`;
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A new file written under a temp name in `dir`; `commit` makes it durable and gives it its name. */
export class PendingFile {
  #done = false;

  private constructor(
    readonly dir: string,
    readonly finalName: string,
    readonly tempPath: string,
    readonly handle: FileHandle,
  ) {}

  static async create(dir: string, finalName: string): Promise<PendingFile> {
    const path = join(dir, tempName(finalName));
    const fh = await open(path, 'wx', 0o644);
    return new PendingFile(dir, finalName, path, fh);
  }

  async write(buf: Buffer, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesWritten } = await this.handle.write(buf, done, length - done, position + done);
      done += bytesWritten;
    }
  }

  /** fsync, close, rename to the final name. The caller fsyncs the directory (once for several files). */
  async commit(): Promise<string> {
    await this.handle.sync();
    await this.handle.close();
    const path = join(this.dir, this.finalName);
    await rename(this.tempPath, path);
    this.#done = true;
    return path;
  }

  /** Closes and removes the temp file; safe after a failed commit and harmless after a good one. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.handle.close().catch(() => {});
    await unlink(this.tempPath).catch(() => {});
  }
}

/** Writes a small file (the header) durably under a temp name and renames it; then fsyncs the directory. */
export async function replaceFileDurably(dir: string, name: string, data: Buffer): Promise<void> {
  const file = await PendingFile.create(dir, name);
  try {
    await file.write(data, data.length, 0);
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
  await fsyncDir(dir);
}

/** Copies `source` to dir/name durably (temp name, fsync, rename); the caller fsyncs the directory. */
export async function copyFileDurably(source: string, dir: string, name: string): Promise<void> {
  const temp = join(dir, tempName(name));
  try {
    await copyFile(source, temp, constants.COPYFILE_EXCL);
    const fh = await open(temp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, join(dir, name));
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}
