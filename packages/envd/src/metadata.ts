import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from './http-error.js';

const HEADER_PREFIX = 'x-metadata-';
const KEY = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const VALUE = /^[\x20-\x7e]*$/;
/** The VFS xattr-name limit (255) minus `user.e2b.`. */
const MAX_KEY = 246;
const MAX_TOTAL = 4096;

/** `X-Metadata-<key>: <value>` headers as E2B's envd reads them: key lowercased, validated, size-capped. */
export function metadataFromHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  let total = 0;
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(HEADER_PREFIX)) continue;
    const key = name.slice(HEADER_PREFIX.length).toLowerCase();
    const value = Array.isArray(raw) ? (raw[0] ?? '') : (raw ?? '');
    if (!KEY.test(key) || key.length > MAX_KEY)
      throw new HttpError(
        400,
        `invalid metadata key ${JSON.stringify(key)}: HTTP token characters, at most ${MAX_KEY}`,
      );
    if (!VALUE.test(value)) throw new HttpError(400, `metadata value for ${key} must be printable US-ASCII`);
    total += 'user.e2b.'.length + key.length + value.length;
    out[key] = value;
  }
  if (total > MAX_TOTAL) throw new HttpError(400, `metadata is ${total} bytes, at most ${MAX_TOTAL}`);
  return out;
}
