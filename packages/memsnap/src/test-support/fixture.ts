// Shared test plumbing: temp directories removed after the test, a seeded PRNG, directory listings.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A fresh directory under os.tmpdir(), removed when the test ends. */
export function tempDir(t: TestContext, name = 'memsnap-'): string {
  const dir = mkdtempSync(join(tmpdir(), name));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** mulberry32: tiny, fast, good enough to drive tests reproducibly from one seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills `buf` with bytes from `rand` (fast: 4 bytes per call). */
export function fillRandom(buf: Buffer, rand: () => number): void {
  let i = 0;
  for (; i + 4 <= buf.length; i += 4) buf.writeUInt32LE(Math.floor(rand() * 4294967296), i);
  for (; i < buf.length; i++) buf[i] = Math.floor(rand() * 256);
}

/** name -> sha256 of every file in `dir`: "nothing was written" means this is unchanged. */
export function listing(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  }
  return out;
}

/** The seed for property tests: MEMSNAP_SEED to reproduce a failure, else a fixed one (stable CI). */
export function propertySeed(fallback: number): number {
  const env = process.env.MEMSNAP_SEED;
  return env === undefined ? fallback : Number(env);
}
