// Build ids name generations: the header stores them as 16 raw bytes (the UUID in its textual byte order,
// like Go's uuid.UUID), the API as canonical lowercase 8-4-4-4-12 strings so they compare with ===.
import { randomUUID } from 'node:crypto';
import { MemsnapError } from './errors.js';

/** The all-zero build id: a mapping with it is zero fill and has no data file. */
export const ZERO_BUILD_ID = '00000000-0000-0000-0000-000000000000';

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isCanonicalBuildId(id: string): boolean {
  return CANONICAL.test(id);
}

export function newBuildId(): string {
  return randomUUID();
}

/** Throws bad_build_id unless `id` is canonical (lowercase, hyphenated). */
export function assertBuildId(id: string, what: string, file?: string): void {
  if (!isCanonicalBuildId(id)) {
    throw new MemsnapError(
      'bad_build_id',
      `${file ?? 'header'}: ${what} ${JSON.stringify(id)} is not a canonical lowercase UUID`,
      file === undefined ? {} : { file },
    );
  }
}

export function buildIdToBytes(id: string, out: Buffer, at: number): void {
  out.write(id.replaceAll('-', ''), at, 16, 'hex');
}

export function buildIdFromBytes(buf: Buffer, at: number): string {
  const h = buf.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A header has thousands of entries but a handful of distinct build ids (one per generation): codecs
 * convert each distinct id once and reuse the result.
 */
export class BuildIdCache {
  readonly #fromHex = new Map<string, string>();
  readonly #toBytes = new Map<string, Buffer>();

  read(buf: Buffer, at: number): string {
    const hex = buf.toString('hex', at, at + 16);
    let id = this.#fromHex.get(hex);
    if (id === undefined) {
      id = buildIdFromBytes(buf, at);
      this.#fromHex.set(hex, id);
    }
    return id;
  }

  write(id: string, out: Buffer, at: number): void {
    let bytes = this.#toBytes.get(id);
    if (bytes === undefined) {
      bytes = Buffer.alloc(16);
      buildIdToBytes(id, bytes, 0);
      this.#toBytes.set(id, bytes);
    }
    bytes.copy(out, at);
  }
}
