// Resolved bytes of a snapshot: every block read through the header into one buffer, the way the pager
// serves them (data files by pread, zero fill for zero entries).
import { type FileHandle, open } from 'node:fs/promises';
import { ZERO_BUILD_ID } from './build-id.js';
import { fmtOffset, MemsnapError } from './errors.js';
import type { Header } from './header.js';
import { dataFilePath } from './layout.js';
import { HeaderIndex } from './lookup.js';

export async function readResolved(
  dir: string,
  header: Header,
  offset: number,
  length: number,
): Promise<Buffer> {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > header.size
  ) {
    throw new MemsnapError(
      'bad_range',
      `${dir}: cannot read ${length} bytes at offset ${offset}: the memory is [0, ${fmtOffset(header.size)})`,
      Number.isSafeInteger(offset) ? { offset } : {},
    );
  }
  const out = Buffer.alloc(length);
  if (length === 0) return out;
  const index = new HeaderIndex(header);
  const files = new Map<string, FileHandle>();
  try {
    let pos = offset;
    while (pos < offset + length) {
      const loc = index.lookup(pos);
      const n = Math.min(loc.runLength, offset + length - pos);
      const at = pos - offset;
      if (loc.buildId !== ZERO_BUILD_ID) {
        const path = dataFilePath(dir, loc.buildId);
        let fh = files.get(loc.buildId);
        if (!fh) {
          fh = await open(path, 'r').catch((cause: unknown) => {
            throw new MemsnapError(
              'missing_data_file',
              `${path}: cannot open it for mapping ${loc.index} at offset ${fmtOffset(pos)}: ${String(cause)}`,
              { file: path, entry: loc.index, offset: pos, cause },
            );
          });
          files.set(loc.buildId, fh);
        }
        let done = 0;
        while (done < n) {
          const { bytesRead } = await fh.read(out, at + done, n - done, loc.storageOffset + done);
          if (bytesRead === 0) {
            throw new MemsnapError(
              'short_data_file',
              `${path}: ends at ${fmtOffset(loc.storageOffset + done)}, but mapping ${loc.index} at offset ${fmtOffset(index.mappings[loc.index]?.offset ?? 0)} reads guest offset ${fmtOffset(pos + done)} from there`,
              { file: path, entry: loc.index, offset: pos + done },
            );
          }
          done += bytesRead;
        }
      }
      pos += n;
    }
    return out;
  } finally {
    for (const fh of files.values()) await fh.close();
  }
}
