import type { Logger } from 'pino';
import type { SandboxService } from './services/sandbox-service.js';

/**
 * A graceful stop with an in-process agent pauses every running sandbox (a new agent cannot adopt a VM
 * whose memory the old one served) and marks it, so the next start resumes it: nothing is lost.
 */
export async function pauseForStop(sandboxes: SandboxService, hostId: string, log: Logger): Promise<void> {
  for (const row of await sandboxes.store.onHost(hostId)) {
    if (row.state !== 'running') continue;
    await sandboxes.locks
      .run(row.id, async () => {
        await sandboxes.pauseLocked(row.id, 'stop');
        await sandboxes.store.update(row.id, { resume_on_start: 1 });
      })
      .catch((err) => log.error({ err, sandbox: row.id }, 'could not pause a sandbox for the stop'));
  }
}

export async function resumeAfterStart(sandboxes: SandboxService, log: Logger): Promise<void> {
  for (const row of await sandboxes.store.toResume()) {
    try {
      await sandboxes.store.update(row.id, { resume_on_start: 0 });
      await sandboxes.resume(row.team_id, row.id);
    } catch (err) {
      log.error({ err, sandbox: row.id }, 'could not resume a sandbox paused by the last stop');
    }
  }
}
