import { createHash, randomBytes } from 'node:crypto';

/** `e2b_` + 40 hex: the shape the `e2b` SDK accepts client-side, so its users need nothing but the key. */
export const KEY_PATTERN = /^e2b_[0-9a-f]{40}$/;

export function generateKey(): string {
  return `e2b_${randomBytes(20).toString('hex')}`;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** What a listing shows of a key: enough to tell keys apart, never enough to use one. */
export function keyPrefix(key: string): string {
  return key.slice(0, 8);
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}
