import { ensureImage, imageId, listImages, resolveInputs } from '@amber/image';
import type { Command } from 'commander';

interface BuildFlags {
  force?: boolean;
  cacheDir?: string;
  packages?: string[];
  recipe?: string;
  dryRun?: boolean;
}

/** `--packages a,b --packages c` -> [a, b, c]; names are checked by @amber/image (invalid_input). */
export function packageList(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  ];
}

export function registerImageCommands(program: Command): void {
  const image = program
    .command('image')
    .description('build and list guest images (kernel, initramfs, rootfs)');

  image
    .command('build')
    .description('build the guest image for the current inputs, or reuse the cached one')
    .option('--force', 'rebuild even if a valid cached image exists')
    .option('--cache-dir <dir>', 'cache directory (default: $AMBER_CACHE_DIR or /var/cache/amber)')
    .option('--packages <list>', 'extra Debian packages, comma-separated (repeatable)', packageList)
    .option('--recipe <file>', 'a JSON recipe: {"packages": [...], "run": [...]} (see @amber/image)')
    .option('--dry-run', 'print the image id these inputs give and whether it is cached; build nothing')
    .action(async (opts: BuildFlags) => {
      const inputs = {
        ...(opts.packages && { packages: opts.packages }),
        ...(opts.recipe && { recipePath: opts.recipe }),
      };
      if (opts.dryRun) {
        const id = imageId(await resolveInputs(inputs));
        const cached = (await listImages(opts.cacheDir)).some((i) => i.id === id && i.image !== undefined);
        process.stdout.write(`image ${id} ${cached ? 'is cached' : 'is not built'} (dry run)\n`);
        return;
      }
      const result = await ensureImage({
        force: opts.force ?? false,
        verifyHashes: true,
        ...inputs,
        ...(opts.cacheDir && { cacheDir: opts.cacheDir }),
      });
      const verb = result.built ? `built in ${result.seconds.toFixed(1)} s` : 'up to date (cached)';
      const why = result.rebuiltBecause ? ` (previous entry unusable: ${result.rebuiltBecause})` : '';
      process.stdout.write(`image ${result.image.id} ${verb}${why}\n  ${result.image.dir}\n`);
    });

  image
    .command('ls')
    .description('list cached images')
    .option('--json', 'machine-readable output')
    .option('--cache-dir <dir>', 'cache directory')
    .action(async (opts: { json?: boolean; cacheDir?: string }) => {
      const images = await listImages(opts.cacheDir);
      if (opts.json) {
        const rows = images.map((i) => ({
          id: i.id,
          dir: i.dir,
          ok: i.image !== undefined,
          ...(i.problem && { problem: i.problem }),
          ...(i.image && {
            createdAt: i.image.manifest.createdAt,
            kernelRelease: i.image.manifest.kernelRelease,
          }),
        }));
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (images.length === 0) process.stdout.write('no images (run `amber image build`)\n');
      for (const i of images) {
        const state = i.image
          ? `${i.image.manifest.createdAt}  kernel ${i.image.manifest.kernelRelease}`
          : `BROKEN: ${i.problem}`;
        process.stdout.write(`${i.id}  ${state}\n`);
      }
    });
}
