import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Sandbox ids look like E2B's: 20 lowercase alphanumerics, safe in paths, netns names and URLs. */
export function newSandboxId(): string {
  const bytes = randomBytes(20);
  let id = '';
  for (const b of bytes) id += ALPHABET[b % ALPHABET.length];
  return id;
}

export const SANDBOX_ID = /^[a-z0-9]{20}$/;
