import { createHash } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { rootfsFiles } from './guest/rootfs-files.js';
import { BUSYBOX } from './initramfs.js';
import type { ImageInputs } from './inputs.js';
import { run } from './run.js';

/**
 * The Debian tree is the slowest step and changes far less often than the agent, so it is its own cache
 * layer; the image only copies it. mmdebstrap, not debootstrap: it resolves with apt and fetches the
 * .debs in parallel (debootstrap resolved in shell and fetched ~150 files one by one: 4.5 of its 11
 * minutes in a measured build) and installs each stage with one dpkg run. Same package set: minbase is
 * Essential, Priority:required and apt, plus the `--include`s and their hard dependencies, no Recommends.
 */
export async function packageLayer(inputs: ImageInputs, cacheDir: string): Promise<string> {
  const key = createHash('sha256')
    .update(JSON.stringify([inputs.recipe, inputs.suite, inputs.mirror, inputs.packages, inputs.run]))
    .digest('hex')
    .slice(0, 16);
  const layers = join(cacheDir, 'layers');
  const dir = join(layers, `mmdebstrap-${key}`);
  if (await stat(join(dir, 'complete')).catch(() => undefined)) return dir;
  const tmp = join(layers, `.tmp-mmdebstrap-${key}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const root = join(tmp, 'root');
  await run('mmdebstrap', [
    '--mode=root',
    '--variant=minbase',
    `--include=${inputs.packages.join(',')}`,
    // No fsync per unpacked file: a crash mid-build leaves a temp dir that is thrown away anyway.
    '--dpkgopt=force-unsafe-io',
    // sources.list stays a plain `deb <mirror> <suite> main`, as debootstrap wrote it; needs no gpg.
    '--skip=check/signed-by',
    // Merged /usr made up front and the empty usr-is-merged installed, as debootstrap does; apt alone
    // would pick usrmerge (and three perl libraries) for init-system-helpers' `usrmerge | usr-is-merged`.
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    inputs.suite,
    root,
    inputs.mirror,
  ]);
  // The unsafe-io setting was for the build only; the guest's own dpkg keeps its default.
  await rm(join(root, 'etc/dpkg/dpkg.cfg.d/99mmdebstrap'), { force: true });
  // That hook also links the multilib dirs amd64 may have; debootstrap links only those that have files.
  for (const lib of ['lib32', 'libx32']) {
    if ((await readdir(join(root, 'usr', lib)).catch(() => ['?'])).length > 0) continue;
    await rmdir(join(root, 'usr', lib));
    await rm(join(root, lib), { force: true });
  }
  // E2B's SDKs default to the unprivileged user "user" (uid 1000, /home/user), who may sudo.
  await run('chroot', [root, 'useradd', '--create-home', '--uid', '1000', '--shell', '/bin/bash', 'user']);
  await writeFile(join(root, 'etc/sudoers.d/user'), 'user ALL=(ALL:ALL) NOPASSWD: ALL\n', { mode: 0o440 });
  for (const command of inputs.run) await run('chroot', [root, '/bin/sh', '-c', command]);
  for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man']) {
    await rm(join(root, junk), { recursive: true, force: true });
    await mkdir(join(root, junk), { recursive: true });
  }
  await writeFile(join(tmp, 'complete'), `${new Date().toISOString()}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

/** Bytes used by the tree and by its largest directories (two levels down), for the manifest's size report. */
export interface SizeReport {
  totalBytes: number;
  largest: Array<{ path: string; bytes: number }>;
}

async function sizeReport(root: string): Promise<SizeReport> {
  const lines = (await run('du', ['-x', '-b', '-d', '3', root])).trim().split('\n');
  const sizes = lines.map((line) => {
    const [bytes, path] = line.split('\t');
    return { path: (path ?? '').slice(root.length) || '/', bytes: Number(bytes) };
  });
  const total = sizes.find((s) => s.path === '/')?.bytes ?? 0;
  const largest = sizes
    .filter((s) => s.path.split('/').length === 4)
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 10);
  return { totalBytes: total, largest };
}

/** Copies the base tree, adds node, the agent and the init files, and packs it into a sparse ext4 image. */
export async function buildRootfs(
  inputs: ImageInputs,
  layer: string,
  work: string,
  out: string,
): Promise<SizeReport> {
  const root = join(work, 'rootfs');
  await run('cp', ['-a', join(layer, 'root'), root]);
  const amber = join(root, 'opt/amber');
  await mkdir(amber, { recursive: true });
  await copyFile(BUSYBOX, join(amber, 'busybox'));
  await copyFile(inputs.envdPath, join(amber, 'envd.cjs'));
  await copyFile(inputs.guestAddonPath, join(amber, 'amber_guest.node'));
  for (const file of rootfsFiles) {
    await writeFile(join(root, file.path), file.content);
    await chmod(join(root, file.path), file.mode);
  }
  await copyFile(inputs.nodePath, join(root, 'usr/bin/node'));
  await chmod(join(root, 'usr/bin/node'), 0o755);
  const sizes = await sizeReport(root);
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
  return sizes;
}
