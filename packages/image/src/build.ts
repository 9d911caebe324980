import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Listr, PRESET_TIMER } from 'listr2';
import {
  defaultCacheDir,
  IMAGE_FILES,
  type Image,
  type ImageManifest,
  imagesDir,
  loadImage,
  removeStaleTemps,
} from './cache.js';
import { buildInitramfs } from './initramfs.js';
import { type ImageInputs, type InputOptions, imageId, resolveInputs, sha256File } from './inputs.js';
import { downloadKernel, type ExtractedKernel, extractKernel } from './kernel.js';
import { withLock } from './lock.js';
import { buildRootfs, packageLayer, type SizeReport } from './rootfs.js';

export interface BuildOptions extends InputOptions {
  cacheDir?: string;
  /** Rebuild even when a valid entry exists. */
  force?: boolean;
  /** Re-hash every file of an existing entry (slow: reads the whole rootfs) instead of checking sizes. */
  verifyHashes?: boolean;
  /** Step-by-step progress with timings; default: only when stderr is a TTY. */
  progress?: boolean;
}

export interface BuildResult {
  image: Image;
  built: boolean;
  /** Why an existing entry was rebuilt, if it was. */
  rebuiltBecause?: string;
  seconds: number;
}

/**
 * Returns the image for the current inputs, building it if the cache has no valid entry. The build runs
 * in a temp dir beside the entry and is renamed into place with the manifest already inside, so an entry
 * is either whole or absent.
 */
export async function ensureImage(options: BuildOptions = {}): Promise<BuildResult> {
  const started = Date.now();
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const inputs = await resolveInputs(options);
  const id = imageId(inputs);
  const dir = join(imagesDir(cacheDir), id);
  const seconds = () => (Date.now() - started) / 1000;

  const existing = await loadImage(dir, options.verifyHashes ?? false);
  const existed = (await stat(dir).catch(() => undefined)) !== undefined;
  if (existing.image && !options.force) return { image: existing.image, built: false, seconds: seconds() };

  await mkdir(imagesDir(cacheDir), { recursive: true });
  return withLock(join(imagesDir(cacheDir), '.lock'), async () => {
    // Another process may have finished the same build while we waited for the lock.
    const again = await loadImage(dir, false);
    if (again.image && !options.force) return { image: again.image, built: false, seconds: seconds() };
    await removeStaleTemps(imagesDir(cacheDir));
    await build(inputs, id, cacheDir, options.progress ?? process.stderr.isTTY === true);
    const { image, problem } = await loadImage(dir, false);
    if (!image) throw new Error(`image ${id} was built but does not load: ${problem}`);
    return {
      image,
      built: true,
      ...(existed && existing.problem && { rebuiltBecause: existing.problem }),
      seconds: seconds(),
    };
  });
}

interface BuildContext {
  kernel?: ExtractedKernel;
  layer?: string;
  sizes?: SizeReport;
}

async function build(inputs: ImageInputs, id: string, cacheDir: string, progress: boolean): Promise<void> {
  const tmp = join(imagesDir(cacheDir), `.tmp-${id}-${process.pid}`);
  const work = join(tmp, 'work');
  const downloads = join(cacheDir, 'downloads');
  await mkdir(work, { recursive: true });
  await mkdir(downloads, { recursive: true });
  const tasks = new Listr<BuildContext>(
    [
      {
        title: `Kernel ${inputs.kernelVersion} and initramfs, beside Debian ${inputs.suite} (minbase + ${inputs.packages.length} packages, cached layer)`,
        task: async (ctx) => {
          // Independent, so side by side: on 2 cores the kernel's download and extraction fit in the
          // time dpkg spends in maintainer scripts. Both are awaited before any error is thrown, so
          // nothing still writes into the temp dir when it is removed.
          const kernel = async () => {
            const deb = await downloadKernel(inputs.kernelPackage, inputs.kernelVersion, downloads);
            ctx.kernel = await extractKernel(deb, work);
            await buildInitramfs(ctx.kernel, work, join(tmp, 'initrd.img'));
          };
          const packages = async () => {
            ctx.layer = await packageLayer(inputs, cacheDir);
          };
          const failed = (await Promise.allSettled([kernel(), packages()])).find(
            (r): r is PromiseRejectedResult => r.status === 'rejected',
          );
          if (failed) throw failed.reason;
        },
      },
      {
        title: 'Assemble ext4 rootfs (node + envd)',
        task: async (ctx) => {
          ctx.sizes = await buildRootfs(inputs, ctx.layer as string, work, join(tmp, 'rootfs.ext4'));
        },
      },
      {
        title: 'Checksum and seal',
        task: async (ctx) => {
          await rename(join(work, 'vmlinux'), join(tmp, 'vmlinux'));
          await rm(work, { recursive: true, force: true });
          const files = {} as ImageManifest['files'];
          for (const name of IMAGE_FILES) {
            const path = join(tmp, name);
            files[name] = { size: (await stat(path)).size, sha256: await sha256File(path) };
          }
          const manifest: ImageManifest = {
            id,
            createdAt: new Date().toISOString(),
            kernelRelease: (ctx.kernel as ExtractedKernel).release,
            inputs,
            files,
            ...(ctx.sizes && { sizes: ctx.sizes }),
          };
          await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
          const dir = join(imagesDir(cacheDir), id);
          await rm(dir, { recursive: true, force: true });
          await rename(tmp, dir);
        },
      },
    ],
    {
      renderer: 'default',
      silentRendererCondition: !progress,
      rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false },
      exitOnError: true,
    },
  );
  try {
    await tasks.run({});
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
