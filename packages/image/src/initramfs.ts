import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { initramfsInit } from './guest/initramfs-init.js';
import type { ExtractedKernel } from './kernel.js';
import { run } from './run.js';

export const BUSYBOX = '/bin/busybox';

/** A small uncompressed newc cpio: busybox, the virtio modules in load order, and /init. */
export async function buildInitramfs(kernel: ExtractedKernel, work: string, out: string): Promise<void> {
  const root = join(work, 'initramfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'lib/modules'), { recursive: true });
  await copyFile(BUSYBOX, join(root, 'bin/busybox'));
  const order: string[] = [];
  for (const module of kernel.modules) {
    await copyFile(join(kernel.modulesRoot, module), join(root, 'lib/modules', basename(module)));
    order.push(basename(module));
  }
  await writeFile(join(root, 'modules.order'), `${order.join('\n')}\n`);
  await writeFile(join(root, 'init'), initramfsInit);
  await chmod(join(root, 'init'), 0o755);
  await run(
    'sh',
    ['-c', 'find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible'],
    {
      cwd: root,
      stdoutFile: out,
    },
  );
}
