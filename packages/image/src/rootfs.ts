import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootfsFiles } from './guest/rootfs-files.js';
import { BUSYBOX } from './initramfs.js';
import type { ImageInputs } from './inputs.js';
import { run } from './run.js';

const DEBOOTSTRAP_INCLUDE = ['procps'];

/**
 * The debootstrap tree is the slowest step (~25 s plus downloads) and changes far less often than the
 * agent, so it is its own cache layer; the image only copies it.
 */
export async function debootstrapLayer(inputs: ImageInputs, cacheDir: string): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify([inputs.recipe, inputs.suite, inputs.mirror, DEBOOTSTRAP_INCLUDE]))
    .digest('hex')
    .slice(0, 16);
  const layers = join(cacheDir, 'layers');
  const dir = join(layers, `debootstrap-${key}`);
  if (await stat(join(dir, 'complete')).catch(() => undefined)) return dir;
  const tmp = join(layers, `.tmp-debootstrap-${key}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const root = join(tmp, 'root');
  await run('debootstrap', [
    '--variant=minbase',
    `--include=${DEBOOTSTRAP_INCLUDE.join(',')}`,
    inputs.suite,
    root,
    inputs.mirror,
  ]);
  // E2B's SDKs default to the unprivileged user "user" with /home/user.
  await run('chroot', [root, 'useradd', '--create-home', '--shell', '/bin/bash', 'user']);
  for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man']) {
    await rm(join(root, junk), { recursive: true, force: true });
    await mkdir(join(root, junk), { recursive: true });
  }
  await writeFile(join(tmp, 'complete'), `${new Date().toISOString()}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/** Copies the base tree, adds node, the agent and the init files, and packs it into a sparse ext4 image. */
export async function buildRootfs(
  inputs: ImageInputs,
  layer: string,
  work: string,
  out: string,
): Promise<void> {
  const root = join(work, 'rootfs');
  await run('cp', ['-a', join(layer, 'root'), root]);
  const amber = join(root, 'opt/amber');
  await mkdir(amber, { recursive: true });
  await copyFile(BUSYBOX, join(amber, 'busybox'));
  await copyFile(inputs.envdPath, join(amber, 'envd.cjs'));
  for (const file of rootfsFiles) {
    await writeFile(join(root, file.path), file.content);
    await chmod(join(root, file.path), file.mode);
  }
  await copyFile(inputs.nodePath, join(root, 'usr/bin/node'));
  await chmod(join(root, 'usr/bin/node'), 0o755);
  await writeFile(out, '');
  await truncate(out, inputs.rootfsSizeMiB * 1024 * 1024);
  // Inode tables and journal zeroed now, not by the guest's ext4lazyinit thread after every cold boot.
  await run('mkfs.ext4', [
    '-q',
    '-F',
    '-L',
    'amber-root',
    '-b',
    '4096',
    '-E',
    'lazy_itable_init=0,lazy_journal_init=0',
    '-d',
    root,
    out,
  ]);
  await rm(root, { recursive: true, force: true });
}
