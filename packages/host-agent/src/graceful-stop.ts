// A stopping agent pauses every running sandbox first, so an upgrade (`amber down`, `amber up`) loses
// nothing a user wrote: each comes back paused at what it was at the stop and resumes on demand.
import type { Logger } from 'pino';

export interface StopReport {
  paused: string[];
  /** Sandboxes that were running and could not be paused: the next agent finds their last snapshot, if any. */
  failed: Array<{ id: string; error: string }>;
}

export interface StopTarget {
  /** Sandboxes that are running or about to be (starting, resuming) at the stop. */
  running(): string[];
  /** Pauses one; resolves false when it turned out not to be running (it was paused or failed meanwhile). */
  pause(id: string): Promise<boolean>;
}

/**
 * Pauses the target's running sandboxes, at most `concurrency` at a time (each pause is mostly disk I/O and
 * one QEMU migration; more at once than cores only queues them), logging progress as each one ends.
 */
export async function pauseEveryRunning(
  target: StopTarget,
  concurrency: number,
  log: Logger,
): Promise<StopReport> {
  const queue = target.running();
  const report: StopReport = { paused: [], failed: [] };
  if (queue.length === 0) return report;
  const total = queue.length;
  const started = performance.now();
  log.info({ sandboxes: total, concurrency }, 'pausing every running sandbox before the agent stops');
  let done = 0;
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        if (await target.pause(id)) report.paused.push(id);
      } catch (err) {
        report.failed.push({ id, error: (err as Error).message });
        log.error({ err, sandbox: id }, 'cannot pause the sandbox before the agent stops');
      }
      done++;
      log.info({ sandbox: id, done, total }, 'stop: sandbox handled');
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  log.info(
    {
      paused: report.paused.length,
      failed: report.failed.map((f) => f.id),
      ms: Math.round(performance.now() - started),
    },
    report.failed.length ? 'sandboxes not paused at the stop' : 'every running sandbox paused',
  );
  return report;
}
