// Binary form of the header, little-endian:
//   metadata (64 bytes): version u64, blockSize u64, size u64, generation u64, buildId [16], baseBuildId [16]
//   then one 40-byte entry per mapping: offset u64, length u64, buildId [16], storageOffset u64
// There is no entry count: the file length gives it (as in e2b's v3 format).
import { BuildIdCache, buildIdFromBytes, buildIdToBytes } from './build-id.js';
import { fmtOffset, MemsnapError } from './errors.js';
import { ENTRY_SIZE, HEADER_VERSION, type Header, type Mapping, METADATA_SIZE } from './header.js';
import { validateHeader } from './validate.js';

export interface ParseOptions {
  /** Named in error messages. */
  file?: string;
  /** Default true: a parsed header is a valid one. `false` is for tools that show broken headers. */
  validate?: boolean;
}

/** Parses (and by default validates) a serialized header. Build ids come back canonical lowercase. */
export function parseHeader(buf: Uint8Array, opts: ParseOptions = {}): Header {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const file = opts.file;
  const where = file ?? 'header';
  const at = file === undefined ? {} : { file };
  if (b.length < 8) {
    throw new MemsnapError('truncated_header', `${where}: ${b.length} bytes, too short for a version`, {
      ...at,
      offset: 0,
    });
  }
  // The version decides the layout, so it is checked before the length.
  const version = b.readBigUInt64LE(0);
  if (version !== BigInt(HEADER_VERSION)) {
    throw new MemsnapError(
      'unknown_version',
      `${where}: unknown header version ${version} at byte 0 (this reader knows ${HEADER_VERSION})`,
      { ...at, offset: 0 },
    );
  }
  if (b.length < METADATA_SIZE) {
    throw new MemsnapError(
      'truncated_header',
      `${where}: ${b.length} bytes, but the metadata alone is ${METADATA_SIZE}`,
      { ...at, offset: b.length },
    );
  }
  const rest = (b.length - METADATA_SIZE) % ENTRY_SIZE;
  if (rest !== 0) {
    const entry = Math.floor((b.length - METADATA_SIZE) / ENTRY_SIZE);
    const byte = METADATA_SIZE + entry * ENTRY_SIZE;
    throw new MemsnapError(
      'truncated_header',
      `${where}: mapping ${entry} at byte ${fmtOffset(byte)} has only ${rest} of its ${ENTRY_SIZE} bytes`,
      { ...at, entry, offset: byte },
    );
  }
  // u64 as two u32 halves: exact below 2^53 and far cheaper than BigInt for thousands of entries.
  const u64 = (pos: number, what: string, entry?: number): number => {
    const hi = b.readUInt32LE(pos + 4);
    if (hi > 0x1fffff) {
      throw new MemsnapError(
        'number_too_large',
        `${where}: ${what} ${b.readBigUInt64LE(pos)} at byte ${fmtOffset(pos)} is beyond 2^53 - 1`,
        { ...at, offset: pos, ...(entry === undefined ? {} : { entry }) },
      );
    }
    return hi * 0x1_0000_0000 + b.readUInt32LE(pos);
  };
  const ids = new BuildIdCache();
  const count = (b.length - METADATA_SIZE) / ENTRY_SIZE;
  const mappings: Mapping[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const p = METADATA_SIZE + i * ENTRY_SIZE;
    mappings[i] = {
      offset: u64(p, `mapping ${i} offset`, i),
      length: u64(p + 8, `mapping ${i} length`, i),
      buildId: ids.read(b, p + 16),
      storageOffset: u64(p + 32, `mapping ${i} storage offset`, i),
    };
  }
  const header: Header = {
    version: HEADER_VERSION,
    blockSize: u64(8, 'block size'),
    size: u64(16, 'memory size'),
    generation: u64(24, 'generation'),
    buildId: buildIdFromBytes(b, 32),
    baseBuildId: buildIdFromBytes(b, 48),
    mappings,
  };
  if (opts.validate !== false) validateHeader(header, at);
  return header;
}

/** Validates and serializes. */
export function serializeHeader(h: Header): Buffer {
  validateHeader(h);
  return encodeHeader(h);
}

/**
 * Serializes without validating: for tests and tools that must produce broken headers on purpose.
 * Numbers must still be non-negative safe integers.
 */
export function encodeHeader(h: Header): Buffer {
  const b = Buffer.alloc(METADATA_SIZE + h.mappings.length * ENTRY_SIZE);
  writeU64(b, h.version, 0);
  writeU64(b, h.blockSize, 8);
  writeU64(b, h.size, 16);
  writeU64(b, h.generation, 24);
  buildIdToBytes(h.buildId, b, 32);
  buildIdToBytes(h.baseBuildId, b, 48);
  const ids = new BuildIdCache();
  let p = METADATA_SIZE;
  for (const m of h.mappings) {
    writeU64(b, m.offset, p);
    writeU64(b, m.length, p + 8);
    ids.write(m.buildId, b, p + 16);
    writeU64(b, m.storageOffset, p + 32);
    p += ENTRY_SIZE;
  }
  return b;
}

/** Little-endian u64 from a non-negative safe integer (checked: BigInt would have thrown too). */
function writeU64(b: Buffer, n: number, at: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${n} is not a u64 this codec can write`);
  b.writeUInt32LE(n % 0x1_0000_0000, at);
  b.writeUInt32LE(Math.floor(n / 0x1_0000_0000), at + 4);
}
