// `amber image prune`: frees what nothing on this host uses any more — guest images no sandbox or template
// was built from (and not the current one), Debian package layers but the newest, interrupted builds, and
// leftovers of crashed agents (`*.tmp-*` files, network namespaces of the older `amber-<sandbox id>` naming).
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { imageId, listImages, resolveInputs } from '@amber/image';
import { run } from './commands.js';
import type { AgentConfig } from './config.js';

export interface PruneItem {
  kind: 'image' | 'layer' | 'build-leftover' | 'temp-file' | 'namespace';
  /** A path, or a namespace name. */
  target: string;
  reason: string;
}

export interface PrunePlan {
  items: PruneItem[];
  /** Images kept, and why. */
  kept: Array<{ id: string; reason: string }>;
  /** Why some leftovers were not looked at (an agent is running on this home). */
  skipped: string[];
}

/** Sandbox namespaces were once named after the sandbox id alone. */
const OLD_NAMESPACE = /^amber-[a-z0-9]{20}$/;
const OLD_RAM_FILE = /^amber-[a-z0-9]{20}\.mem$/;
/** `<name>.tmp-<random>` (atomic writes) and `.tmp-<name>` (captures, builds). */
const TEMP = /(^\.tmp-)|(\.tmp-[0-9a-f]+$)/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  return readFile(path, 'utf8')
    .then((text) => JSON.parse(text) as T)
    .catch(() => undefined);
}

/** Image ids that sandboxes and templates in `home` were built from. */
async function imagesInUse(home: string): Promise<Map<string, string>> {
  const used = new Map<string, string>();
  for (const id of await readdir(join(home, 'sandboxes')).catch(() => [] as string[])) {
    const record = await readJson<{ imageId?: string }>(join(home, 'sandboxes', id, 'sandbox.json'));
    if (record?.imageId) used.set(record.imageId, `used by sandbox ${id}`);
  }
  for (const name of await readdir(join(home, 'templates')).catch(() => [] as string[])) {
    const record = await readJson<{ imageId?: string }>(join(home, 'templates', name, 'template.json'));
    if (record?.imageId) used.set(record.imageId, `used by template ${name}`);
  }
  return used;
}

/** True if an agent runs on `home` (its pid file names a live process). */
async function agentRunning(home: string): Promise<boolean> {
  const pid = Number.parseInt(await readFile(join(home, 'agent.pid'), 'utf8').catch(() => ''), 10);
  return Boolean(pid) && isAlive(pid);
}

/** Removable things under the cache dir: images and layers nothing uses, builds whose process is gone. */
async function cacheItems(
  config: AgentConfig,
  plan: PrunePlan,
  current: string | undefined,
  minAgeMs: number,
): Promise<void> {
  const used = await imagesInUse(config.home);
  if (current) used.set(current, 'the current image');
  for (const image of await listImages(config.cacheDir)) {
    const built = await stat(image.dir).then(
      (st) => st.mtimeMs,
      () => 0,
    );
    // Another home on this machine (another agent, a build in a work tree) may use a recent image.
    const why = used.get(image.id) ?? (Date.now() - built < minAgeMs ? 'built recently' : undefined);
    if (why) plan.kept.push({ id: image.id, reason: why });
    else
      plan.items.push({
        kind: 'image',
        target: image.dir,
        reason: image.problem ? `broken (${image.problem})` : 'no sandbox or template uses it',
      });
  }
  // The newest complete layer is the one the current inputs built or reused; older ones only cost disk.
  const layersDir = join(config.cacheDir, 'layers');
  const layers: Array<{ path: string; at: number }> = [];
  for (const name of await readdir(layersDir).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue;
    const done = await stat(join(layersDir, name, 'complete')).catch(() => undefined);
    layers.push({ path: join(layersDir, name), at: done?.mtimeMs ?? 0 });
  }
  layers.sort((a, b) => b.at - a.at);
  for (const layer of layers.slice(1))
    plan.items.push({ kind: 'layer', target: layer.path, reason: 'an older build layer' });
  for (const dir of [join(config.cacheDir, 'images'), layersDir]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const pid = /^\.tmp-.*-(\d+)$/.exec(name)?.[1];
      if (pid && !isAlive(Number(pid)))
        plan.items.push({
          kind: 'build-leftover',
          target: join(dir, name),
          reason: `its build (pid ${pid}) is gone`,
        });
    }
  }
}

/** Temp files a crash left in sandbox and template snapshot directories. */
async function homeItems(config: AgentConfig, plan: PrunePlan): Promise<void> {
  const dirs: string[] = [];
  for (const id of await readdir(join(config.home, 'sandboxes')).catch(() => [] as string[]))
    dirs.push(join(config.home, 'sandboxes', id), join(config.home, 'sandboxes', id, 'snapshot'));
  for (const name of await readdir(join(config.home, 'templates')).catch(() => [] as string[]))
    dirs.push(join(config.home, 'templates', name));
  for (const dir of dirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (TEMP.test(name))
        plan.items.push({
          kind: 'temp-file',
          target: join(dir, name),
          reason: 'left by an interrupted write',
        });
    }
  }
}

/** Guest RAM files of the older `amber-<sandbox id>.mem` naming that no process has mapped. */
async function oldRamFiles(config: AgentConfig, plan: PrunePlan): Promise<void> {
  const names = (await readdir(config.shmDir).catch(() => [] as string[])).filter((n) =>
    OLD_RAM_FILE.test(n),
  );
  if (names.length === 0) return;
  const mapped = new Set<string>();
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
    for (const name of names) if (maps.includes(name)) mapped.add(name);
  }
  for (const name of names) {
    if (!mapped.has(name))
      plan.items.push({
        kind: 'temp-file',
        target: join(config.shmDir, name),
        reason: 'older naming, not mapped',
      });
  }
}

async function oldNamespaces(plan: PrunePlan): Promise<void> {
  let listed: string;
  try {
    listed = await run('ip', ['netns', 'list']);
  } catch (err) {
    plan.skipped.push(`cannot list network namespaces (${(err as Error).message}); none is removed`);
    return;
  }
  for (const name of listed.split('\n').map((line) => line.split(' ')[0] ?? '')) {
    if (!OLD_NAMESPACE.test(name)) continue;
    try {
      if ((await run('ip', ['netns', 'pids', name])).trim() === '')
        plan.items.push({ kind: 'namespace', target: name, reason: 'older naming, no process in it' });
    } catch (err) {
      plan.skipped.push(`namespace ${name} kept: cannot tell what runs in it (${(err as Error).message})`);
    }
  }
}

/** What a prune would remove; nothing is touched. */
export async function planPrune(
  config: AgentConfig,
  /** `minAgeHours`: images younger than this are kept (default 24); 0 prunes by use alone. */
  options: { currentImageId?: string; minAgeHours?: number } = {},
): Promise<PrunePlan> {
  const plan: PrunePlan = { items: [], kept: [], skipped: [] };
  let current = options.currentImageId;
  if (!current) {
    current = await resolveInputs()
      .then(imageId)
      .catch((err: Error) => {
        plan.skipped.push(`cannot tell the current image (${err.message}); every image is kept`);
        return undefined;
      });
  }
  if (current) await cacheItems(config, plan, current, (options.minAgeHours ?? 24) * 3600_000);
  if (await agentRunning(config.home)) {
    plan.skipped.push(`an agent runs on ${config.home}: its temp files and namespaces are left alone`);
    return plan;
  }
  await homeItems(config, plan);
  await oldNamespaces(plan);
  await oldRamFiles(config, plan);
  return plan;
}

export async function applyPrune(plan: PrunePlan): Promise<void> {
  for (const item of plan.items) {
    if (item.kind === 'namespace') await run('ip', ['netns', 'del', item.target]);
    else await rm(item.target, { recursive: true, force: true });
  }
}
