import { applyPrune, loadConfig, planPrune } from '@amber/host-agent';
import type { Command } from 'commander';

/** `amber image prune [--dry-run]`, added to the `image` command group (image.ts). */
export function registerImagePruneCommand(program: Command): void {
  const image = program.commands.find((c) => c.name() === 'image');
  if (!image) throw new Error('the image command group must be registered first');
  image
    .command('prune')
    .description('remove images and build layers nothing uses, and leftovers of crashed builds and agents')
    .option('--dry-run', 'only list what would be removed')
    .option('--min-age-hours <hours>', 'keep images built more recently than this', Number, 24)
    .action(async (opts: { dryRun?: boolean; minAgeHours: number }) => {
      if (!Number.isFinite(opts.minAgeHours) || opts.minAgeHours < 0)
        throw new Error('--min-age-hours must be a number, 0 or more');
      const plan = await planPrune(loadConfig(), { minAgeHours: opts.minAgeHours });
      for (const note of plan.skipped) process.stdout.write(`note: ${note}\n`);
      for (const k of plan.kept) process.stdout.write(`keep    image ${k.id}  (${k.reason})\n`);
      const verb = opts.dryRun ? 'would remove' : 'remove';
      for (const item of plan.items)
        process.stdout.write(`${verb}  ${item.kind} ${item.target}  (${item.reason})\n`);
      if (!opts.dryRun) await applyPrune(plan);
      process.stdout.write(`${plan.items.length} item(s) ${opts.dryRun ? 'to remove' : 'removed'}\n`);
    });
}
