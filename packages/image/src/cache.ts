import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageInputs } from './inputs.js';
import { sha256File } from './inputs.js';

export const IMAGE_FILES = ['vmlinux', 'initrd.img', 'rootfs.ext4'] as const;

export interface ImageManifest {
  id: string;
  createdAt: string;
  kernelRelease: string;
  inputs: ImageInputs;
  files: Record<(typeof IMAGE_FILES)[number], { size: number; sha256: string }>;
  /** What the root filesystem holds: total bytes and the largest directories. */
  sizes?: { totalBytes: number; largest: Array<{ path: string; bytes: number }> };
}

/** A built image: the three boot artifacts plus the manifest that proves they are whole. */
export interface Image {
  id: string;
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  manifest: ImageManifest;
}

export function defaultCacheDir(): string {
  return process.env.AMBER_CACHE_DIR ?? '/var/cache/amber';
}

export function imagesDir(cacheDir: string): string {
  return join(cacheDir, 'images');
}

function toImage(dir: string, manifest: ImageManifest): Image {
  return {
    id: manifest.id,
    dir,
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initrd.img'),
    rootfs: join(dir, 'rootfs.ext4'),
    manifest,
  };
}

/**
 * Loads a cache entry, or explains why it is unusable. The manifest is written last, so a half-built entry
 * has none; sizes catch truncation cheaply, `deep` re-hashes every file to catch corruption.
 */
export async function loadImage(dir: string, deep = false): Promise<{ image?: Image; problem?: string }> {
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  } catch (err) {
    return { problem: `no readable manifest (${(err as Error).message})` };
  }
  for (const name of IMAGE_FILES) {
    const expected = manifest.files?.[name];
    if (!expected) return { problem: `manifest lists no ${name}` };
    const actual = await stat(join(dir, name)).catch(() => undefined);
    if (!actual) return { problem: `${name} is missing` };
    if (actual.size !== expected.size)
      return { problem: `${name} is ${actual.size} bytes, expected ${expected.size}` };
    if (deep && (await sha256File(join(dir, name))) !== expected.sha256) {
      return { problem: `${name} does not match its sha256` };
    }
  }
  return { image: toImage(dir, manifest) };
}

export interface CachedImage {
  id: string;
  dir: string;
  image?: Image;
  problem?: string;
}

export async function listImages(cacheDir = defaultCacheDir()): Promise<CachedImage[]> {
  const root = imagesDir(cacheDir);
  const names = await readdir(root).catch(() => [] as string[]);
  const out: CachedImage[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    const dir = join(root, name);
    out.push({ id: name, dir, ...(await loadImage(dir)) });
  }
  return out;
}

/** Removes leftovers of interrupted builds (temp dirs start with a dot). */
export async function removeStaleTemps(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) {
    if (name.startsWith('.tmp-')) await rm(join(dir, name), { recursive: true, force: true });
  }
}
