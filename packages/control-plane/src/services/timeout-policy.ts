import type { Logger } from 'pino';
import type { Metrics } from '../http/metrics.js';
import type { SandboxService } from './sandbox-service.js';

/**
 * Enforces each sandbox's timeout: on expiry it is paused (`onTimeout: "pause"`) or killed. Only running
 * sandboxes have an expiry (paused time does not count), and one in use by an exec or a stream waits.
 */
export class TimeoutPolicy {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      for (const row of await this.sandboxes.store.expired(now)) {
        if (this.sandboxes.isInUse(row.id)) continue;
        await this.sandboxes.locks
          .run(row.id, async () => {
            const current = await this.sandboxes.store.find(row.id);
            if (
              current?.state !== 'running' ||
              current.expires_at === null ||
              current.expires_at > Date.now()
            ) {
              return;
            }
            if (this.sandboxes.isInUse(row.id)) return;
            this.log.info({ sandbox: row.id, action: current.on_timeout }, 'sandbox timed out');
            if (current.on_timeout === 'pause') await this.sandboxes.pauseLocked(row.id, 'timeout');
            else await this.sandboxes.destroy(row.id, 'timeout');
            this.metrics.policyActions.inc({ action: current.on_timeout });
          })
          .catch((err) => this.log.error({ err, sandbox: row.id }, 'timeout action failed'));
      }
    } catch (err) {
      this.log.error({ err }, 'timeout policy pass failed');
    } finally {
      this.busy = false;
    }
  }
}
