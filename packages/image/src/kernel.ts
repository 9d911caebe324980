import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from './errors.js';
import { run } from './run.js';

/** Kernel modules the initramfs loads; their dependencies are added from modules.dep. */
export const GUEST_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console'];

const LZ4_LEGACY_MAGIC = Buffer.from([0x02, 0x21, 0x4c, 0x18]);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

export interface ExtractedKernel {
  release: string;
  vmlinux: string;
  /** Module files in load order, relative to `modulesRoot`. */
  modules: string[];
  modulesRoot: string;
}

/** Downloads the kernel .deb (kept in the cache, apt-get download verifies it against the archive). */
export async function downloadKernel(name: string, version: string, downloadsDir: string): Promise<string> {
  const existing = (await readdir(downloadsDir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  const expected = `${name}_${version.replace(/^\d+:/, '')}_amd64.deb`;
  if (existing === expected) return join(downloadsDir, existing);
  await run('apt-get', ['download', '-q', `${name}=${version}`], { cwd: downloadsDir });
  return join(downloadsDir, expected);
}

/**
 * The Debian vmlinuz is a bzImage with an LZ4 (legacy frame) payload; QEMU boots the plain ELF vmlinux
 * through its PVH entry, which is faster than the bzImage path. lz4 exits non-zero on the bytes that
 * trail the payload, so success is judged by the ELF header of the result.
 */
async function extractVmlinux(vmlinuz: string, out: string): Promise<void> {
  const data = await readFile(vmlinuz);
  const at = data.indexOf(LZ4_LEGACY_MAGIC);
  if (at < 0) throw new ImageError('invalid_input', `${vmlinuz} holds no LZ4 payload`);
  const payload = `${out}.lz4`;
  await writeFile(payload, data.subarray(at));
  await run('lz4', ['-dc', payload], { stdoutFile: out }).catch(() => undefined);
  const head = Buffer.alloc(4);
  const fd = await open(out, 'r');
  try {
    await fd.read(head, 0, 4, 0);
  } finally {
    await fd.close();
  }
  if (!head.equals(ELF_MAGIC))
    throw new ImageError('invalid_input', `decompressing ${vmlinuz} gave no ELF image`);
  await run('rm', ['-f', payload]);
}

/** Orders modules so each one's dependencies load first (modules.dep lists direct and indirect deps). */
export function moduleLoadOrder(modulesDep: string, wanted: string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(path.replace(/^.*\//, '').replace(/\.ko.*$/, ''), path);
  const order: string[] = [];
  const visit = (path: string) => {
    if (order.includes(path)) return;
    for (const dep of [...(deps.get(path) ?? [])].reverse()) visit(dep);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name);
    if (!path) throw new ImageError('invalid_input', `kernel module ${name} is not in modules.dep`);
    visit(path);
  }
  return order;
}

export async function extractKernel(deb: string, work: string): Promise<ExtractedKernel> {
  const root = join(work, 'kernel');
  await run('dpkg-deb', ['-x', deb, root]);
  const release = (await readdir(join(root, 'lib/modules')))[0];
  if (!release) throw new ImageError('invalid_input', `${deb} contains no modules`);
  await run('depmod', ['-b', root, release]);
  const modulesRoot = join(root, 'lib/modules', release);
  const modules = moduleLoadOrder(await readFile(join(modulesRoot, 'modules.dep'), 'utf8'), GUEST_MODULES);
  const vmlinux = join(work, 'vmlinux');
  await extractVmlinux(join(root, 'boot', `vmlinuz-${release}`), vmlinux);
  return { release, vmlinux, modules, modulesRoot };
}
