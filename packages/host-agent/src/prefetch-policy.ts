import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { loadWorkingSet, type Pager, type PrefetchOption, saveWorkingSet } from '@amber/pager';
import { WORKING_SET } from './snapshot/layout.js';

/** Which pages a restore installs before the guest faults on them (prefetchOption). */
export type PrefetchPolicy = 'none' | 'all' | 'working-set';

/**
 * 'working-set' fetches the pages the last run touched, before they fault, and nothing more: a background
 * fetch of everything (`all`) took CPU from the emulated guest on a small host and made the next pause
 * slower (every page of guest RAM to free). Without a recording (first resume, a template) it is 'none'.
 */
export async function prefetchOption(policy: PrefetchPolicy, dir: string): Promise<PrefetchOption> {
  if (policy !== 'working-set') return policy;
  const workingSetPath = join(dir, WORKING_SET);
  const recorded = await access(workingSetPath).then(
    () => true,
    () => false,
  );
  if (!recorded) return 'none';
  // A damaged recording only costs speed.
  const workingSet = await loadWorkingSet(workingSetPath).catch(() => undefined);
  return workingSet ? { workingSet } : 'none';
}

/**
 * Saves the pager's working set in `dir`. Only a hint for the next restore's prefetch: losing it costs
 * speed, never data, so no error of it (thrown or rejected) reaches the caller, whose pause or spawn has
 * already committed: one that escaped a pause left its sandbox 'pausing' for good.
 */
export async function recordWorkingSet(
  pager: Pager,
  dir: string,
  failed: (err: unknown) => void,
): Promise<void> {
  try {
    await saveWorkingSet(join(dir, WORKING_SET), pager.workingSet());
  } catch (err) {
    failed(err);
  }
}

/**
 * How long a template's first spawn keeps faulting page by page after its agent answered. The guest then
 * still sets its clock, runs its first timers and goes idle (~30 faults, nearly all within a second here);
 * without these pages, every later spawn faulted them in after ready (its vCPU ~15 ms more).
 */
const LEARN_AFTER_READY_MS = 2000;

/**
 * A template's first spawn (restored with `exactFaults`): saves what it touched until its agent answered,
 * now, then once more with what it touched in the seconds after, and ends the single-page faults. A spawn
 * paused or gone by then keeps the first recording.
 */
export async function learnWorkingSet(
  pager: Pager,
  dir: string,
  failed: (err: unknown) => void,
): Promise<void> {
  await recordWorkingSet(pager, dir, failed);
  const serving = () => pager.state === 'attached';
  setTimeout(() => {
    if (!serving()) return;
    void recordWorkingSet(pager, dir, failed).then(() => {
      if (serving()) pager.endExactFaults();
    });
  }, LEARN_AFTER_READY_MS).unref();
}
