// A snapshot directory: memfile.header plus one data file per generation, memfile.<buildId>. Every write
// follows one order, so a crash at any instant leaves the previous header loadable:
//   data file (temp name, fsync, rename) -> fsync dir -> header (temp, fsync, rename) -> fsync dir
//   -> only then delete what the new header no longer references.
// One writer per directory at a time (the host agent holds a per-sandbox lock); readers may run alongside
// (an open data file survives its unlink).
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assertBuildId, newBuildId, ZERO_BUILD_ID } from './build-id.js';
import { copyRuns } from './copy-runs.js';
import { fsyncDir, PendingFile, replaceFileDurably } from './durable-fs.js';
import { MemsnapError } from './errors.js';
import { listGarbage } from './garbage.js';
import { DEFAULT_BLOCK_SIZE, HEADER_VERSION, type Header } from './header.js';
import { parseHeader, serializeHeader } from './header-codec.js';
import { dataFilePath, HEADER_FILE, referencedBuildIds } from './layout.js';
import { mergeMappings, normalizeMappings } from './mappings.js';
import type { MemorySource } from './memory-source.js';
import { planMerge } from './merge-plan.js';
import { packBlocks } from './pack-blocks.js';
import { type ByteRange, toBlockRanges } from './ranges.js';
import { readResolved } from './read-range.js';
import { assertBlockSize } from './validate.js';
import { type VerifyReport, verifyDataFiles } from './verify.js';

export interface WriteOptions {
  /** The new generation's build id (canonical lowercase UUID); random when omitted. */
  buildId?: string;
}

export interface WriteBaseOptions extends WriteOptions {
  /** Default 4096; a power of two >= 4096. */
  blockSize?: number;
}

export class SnapshotDir {
  private constructor(readonly dir: string) {}

  /** Opens an existing directory (empty is fine). It is not created: a typo must not become a snapshot. */
  static async open(dir: string): Promise<SnapshotDir> {
    const st = await stat(dir).catch((cause: unknown) => {
      throw new MemsnapError('not_a_directory', `${dir}: cannot open snapshot directory: ${String(cause)}`, {
        file: dir,
        cause,
      });
    });
    if (!st.isDirectory()) {
      throw new MemsnapError('not_a_directory', `${dir}: not a directory`, { file: dir });
    }
    return new SnapshotDir(dir);
  }

  get headerPath(): string {
    return join(this.dir, HEADER_FILE);
  }

  dataFilePath(buildId: string): string {
    return dataFilePath(this.dir, buildId);
  }

  /** The committed header, parsed and validated; undefined when there is none yet. */
  async header(): Promise<Header | undefined> {
    let buf: Buffer;
    try {
      buf = await readFile(this.headerPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseHeader(buf, { file: this.headerPath });
  }

  async #requireHeader(): Promise<Header> {
    const h = await this.header();
    if (!h) throw new MemsnapError('no_header', `${this.headerPath}: no header (nothing committed yet)`);
    return h;
  }

  /** Header valid and every data file it reads from present and long enough; throws MemsnapError. */
  async verify(): Promise<VerifyReport> {
    return verifyDataFiles(this.dir, await this.#requireHeader(), this.headerPath);
  }

  /** `length` resolved bytes from guest `offset`. */
  async read(offset: number, length: number): Promise<Buffer> {
    return readResolved(this.dir, await this.#requireHeader(), offset, length);
  }

  /**
   * Generation 0 from the whole memory: holes (dataRanges) are skipped unread, all-zero blocks become zero
   * fill, the rest is packed in address order. Replaces whatever was committed before, so an unreadable
   * old header does not stop it (it is how a broken snapshot is replaced by a fresh one).
   */
  async writeBase(source: MemorySource, opts: WriteBaseOptions = {}): Promise<Header> {
    const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    assertBlockSize(blockSize);
    if (source.size % blockSize !== 0) {
      throw new MemsnapError(
        'bad_size',
        `memory size ${source.size} is not a multiple of the block size ${blockSize}`,
      );
    }
    const old = await this.header().catch(() => undefined);
    const buildId = this.#newId(opts.buildId, old);
    const ranges = source.dataRanges
      ? toBlockRanges(await source.dataRanges(), blockSize, source.size)
      : [[0, source.size] as [number, number]];
    const packed = await packBlocks(this.dir, buildId, source, ranges, blockSize);
    // Whatever was not scanned (the holes) is zero fill: the scanned entries laid over all-zero memory.
    const allZero =
      source.size > 0 ? [{ offset: 0, length: source.size, buildId: ZERO_BUILD_ID, storageOffset: 0 }] : [];
    const header: Header = {
      version: HEADER_VERSION,
      blockSize,
      size: source.size,
      generation: 0,
      buildId,
      baseBuildId: buildId,
      mappings: normalizeMappings(mergeMappings(allZero, packed.builder.mappings)),
    };
    return this.#commit(packed.file, header);
  }

  /**
   * The next generation from the pages written since the parent was restored: each dirty block (byte
   * ranges are widened to blocks) is read from `source`; non-zero ones are packed, zero ones become zero
   * fill. The header is the parent's mappings overlaid with these, generation + 1.
   */
  async writeDiff(
    source: MemorySource,
    dirty: Iterable<ByteRange>,
    opts: WriteOptions = {},
  ): Promise<Header> {
    const parent = (await this.verify()).header;
    if (source.size !== parent.size) {
      throw new MemsnapError(
        'size_mismatch',
        `${this.headerPath}: memory size is ${parent.size} but the source has ${source.size} bytes`,
      );
    }
    const buildId = this.#newId(opts.buildId, parent);
    const ranges = toBlockRanges(dirty, parent.blockSize, parent.size);
    const packed = await packBlocks(this.dir, buildId, source, ranges, parent.blockSize);
    const header: Header = {
      ...parent,
      generation: parent.generation + 1,
      buildId,
      mappings: normalizeMappings(mergeMappings(parent.mappings, packed.builder.mappings)),
    };
    return this.#commit(packed.file, header);
  }

  /**
   * MergeDiffs: every block resolved through the chain into one new file (copy_file_range, in the kernel),
   * committed as a fresh generation 0; the old generations' files are deleted after the commit.
   */
  async merge(opts: WriteOptions = {}): Promise<Header> {
    const parent = (await this.verify()).header;
    const buildId = this.#newId(opts.buildId, parent);
    const plan = planMerge(parent.mappings, buildId);
    const file = await PendingFile.create(this.dir, `memfile.${buildId}`);
    try {
      await copyRuns(plan.copies, file.handle, (id) => this.dataFilePath(id));
    } catch (err) {
      await file.abort();
      throw err;
    }
    const header: Header = {
      ...parent,
      generation: 0,
      buildId,
      baseBuildId: buildId,
      mappings: plan.mappings,
    };
    return this.#commit(file, header);
  }

  /** Names of files here that the committed header does not need (see listGarbage). */
  async garbage(): Promise<string[]> {
    return listGarbage(this.dir, await this.header());
  }

  /** Deletes garbage(); returns the names deleted. */
  async collectGarbage(): Promise<string[]> {
    const names = await this.garbage();
    for (const name of names) {
      await unlink(join(this.dir, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    if (names.length > 0) await fsyncDir(this.dir);
    return names;
  }

  #newId(requested: string | undefined, current: Header | undefined): string {
    if (requested === undefined) return newBuildId();
    assertBuildId(requested, 'requested build id');
    if (requested === ZERO_BUILD_ID) {
      throw new MemsnapError('bad_build_id', 'a generation cannot have the all-zero build id');
    }
    // Renaming a new file over one the committed header reads would change the committed snapshot.
    if (current && (referencedBuildIds(current).has(requested) || current.baseBuildId === requested)) {
      throw new MemsnapError(
        'build_id_in_use',
        `${this.headerPath}: build id ${requested} is already part of this snapshot`,
        { file: this.dataFilePath(requested) },
      );
    }
    return requested;
  }

  async #commit(file: PendingFile, header: Header): Promise<Header> {
    let bytes: Buffer;
    try {
      bytes = serializeHeader(header);
      await file.commit();
    } catch (err) {
      await file.abort();
      throw err;
    }
    // The data file's name must be durable before a durable header can point at it.
    await fsyncDir(this.dir);
    await replaceFileDurably(this.dir, HEADER_FILE, bytes);
    await this.collectGarbage();
    return header;
  }
}
