import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { guestAddonPath } from '@amber/native';
import { debianMirror } from './apt-mirror.js';
import { initramfsInit } from './guest/initramfs-init.js';
import { rootfsFiles } from './guest/rootfs-files.js';
import { packageSet, readRecipe } from './packages.js';
import { run } from './run.js';

/** Bump when the build steps change in a way the other inputs don't capture. */
export const RECIPE_VERSION = 4;

/** Everything that determines the image's bytes; its hash names the cache entry. */
export interface ImageInputs {
  recipe: number;
  suite: string;
  mirror: string;
  kernelPackage: string;
  kernelVersion: string;
  busyboxVersion: string;
  nodePath: string;
  nodeSha256: string;
  envdPath: string;
  envdSha256: string;
  /** envd's native addon (PTY, xattrs, inotify), copied beside it. */
  guestAddonPath: string;
  guestAddonSha256: string;
  /** Debian packages installed by mmdebstrap (the default set plus extras), sorted. */
  packages: string[];
  /** Shell commands from a recipe, run in the root after the packages. */
  run: string[];
  guestFilesSha256: string;
  rootfsSizeMiB: number;
}

export interface InputOptions {
  /** Path of the bundled guest agent; default: @amber/envd's bundle. */
  envdPath?: string;
  /** Node binary copied into the guest; default: the one running this code. */
  nodePath?: string;
  /** Debian mirror; default: the one this machine's apt uses for the suite. */
  mirror?: string;
  /** Extra Debian packages (`amber image build --packages a,b`). */
  packages?: string[];
  /** A JSON recipe file: `{"packages": [...], "run": [...]}`. */
  recipePath?: string;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The Debian cloud kernel the metapackage currently points at, as its -unsigned (plain vmlinuz) build. */
async function resolveKernel(): Promise<{ name: string; version: string }> {
  const depends = await run('apt-cache', ['depends', 'linux-image-cloud-amd64']);
  const image = /Depends: (linux-image-\S+-cloud-amd64)\b/.exec(depends)?.[1];
  if (!image) throw new Error('cannot resolve the Debian cloud kernel from linux-image-cloud-amd64');
  const name = `${image}-unsigned`;
  return { name, version: await packageVersion(name) };
}

async function packageVersion(name: string): Promise<string> {
  const policy = await run('apt-cache', ['policy', name]);
  const version = /Candidate: (\S+)/.exec(policy)?.[1];
  if (!version || version === '(none)')
    throw new Error(`apt has no candidate for ${name} (run apt-get update)`);
  return version;
}

export function defaultEnvdPath(): string {
  return createRequire(import.meta.url).resolve('@amber/envd/bundle');
}

export async function resolveInputs(options: InputOptions = {}): Promise<ImageInputs> {
  const nodePath = options.nodePath ?? process.execPath;
  const envdPath = options.envdPath ?? defaultEnvdPath();
  const recipe = options.recipePath ? await readRecipe(options.recipePath) : {};
  // Checked before the slow part (apt-cache, hashing the node binary), so a typo fails at once.
  const packages = packageSet([...(options.packages ?? []), ...(recipe.packages ?? [])]);
  const [kernel, busyboxVersion, nodeSha256, envdSha256, guestAddonSha256] = await Promise.all([
    resolveKernel(),
    packageVersion('busybox-static'),
    sha256File(nodePath),
    sha256File(envdPath),
    sha256File(guestAddonPath),
  ]);
  const suite = 'bookworm';
  return {
    recipe: RECIPE_VERSION,
    suite,
    mirror: options.mirror ?? debianMirror(suite),
    kernelPackage: kernel.name,
    kernelVersion: kernel.version,
    busyboxVersion,
    nodePath,
    nodeSha256,
    envdPath,
    envdSha256,
    guestAddonPath,
    guestAddonSha256,
    packages,
    run: recipe.run ?? [],
    guestFilesSha256: createHash('sha256')
      .update(JSON.stringify([initramfsInit, rootfsFiles]))
      .digest('hex'),
    rootfsSizeMiB: 2048,
  };
}

/** Paths don't change the bytes, so they are left out of the identity. */
export function imageId(inputs: ImageInputs): string {
  const { nodePath: _n, envdPath: _e, guestAddonPath: _g, ...identity } = inputs;
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}
