// Where guest memory is read from when a generation is written. A RAM file is only ever pread: an mmap
// would fault its holes in (allocating memory and, on a lazily restored guest, racing the pager).
import { open } from 'node:fs/promises';
import { seekDataRanges } from '@amber/native';

export interface MemorySource {
  /** Guest memory size in bytes. */
  readonly size: number;
  /** Fills `buf` from guest `offset`; returns bytes read (fewer only at the end of the backing store). */
  read(buf: Buffer, offset: number): Promise<number> | number;
  /** Byte ranges [start, end) that may hold non-zero data; everything else is known to be zero. */
  dataRanges?(): Array<[number, number]> | Promise<Array<[number, number]>>;
}

export interface FileMemorySource extends MemorySource {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * A RAM file (memory-backend-file) as a source. `size` defaults to the file's length; a file shorter than
 * `size` reads as zero past its end. dataRanges comes from SEEK_DATA/SEEK_HOLE, so holes cost nothing.
 */
export async function openFileMemorySource(
  path: string,
  opts: { size?: number } = {},
): Promise<FileMemorySource> {
  const fh = await open(path, 'r');
  try {
    const size = opts.size ?? (await fh.stat()).size;
    return {
      path,
      size,
      read: async (buf, offset) => {
        let done = 0;
        while (done < buf.length) {
          const { bytesRead } = await fh.read(buf, done, buf.length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done;
      },
      dataRanges: () => seekDataRanges(fh.fd, size),
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** A Buffer as a source (tests, and callers that already hold the memory). */
export function bufferMemorySource(mem: Buffer): MemorySource {
  return {
    size: mem.length,
    read: (buf, offset) => mem.copy(buf, 0, offset, Math.min(mem.length, offset + buf.length)),
  };
}

/** Reads exactly buf.length bytes from `source`, zero-filling whatever lies past its backing store. */
export async function readFull(source: MemorySource, buf: Buffer, offset: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const n = await source.read(done === 0 ? buf : buf.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  if (done < buf.length) buf.fill(0, done);
}
