import type { SandboxRow } from './sandbox-view.js';

/**
 * How far ahead of the exact expiry the database's copy is written. A write is needed once per this much
 * use of a sandbox instead of twice per exec; a control plane that dies can only let a sandbox live this
 * much past its timeout, never end it early.
 */
export const EXPIRY_SLACK_MS = 30_000;

interface Entry {
  /** When the sandbox was last used (an exec, a file call or a stream starting or ending). */
  lastUse: number;
  /** The database's `expires_at` as last read or written here; null: unknown or none. */
  durable: number | null;
}

/**
 * The exact expiry of sandboxes in use, kept in memory, with the database's copy written ahead of it.
 * Every exec restarts its sandbox's timeout (`lastUse + timeout_sec`); writing that to the database each
 * time cost every exec two writes on its path (and, with SQLite, the checkpoints they bring). Instead the
 * database holds a bound at least as late as the exact expiry (`EXPIRY_SLACK_MS` ahead, raised only when
 * an extension would pass it), and `SandboxStore` lays the exact value over every row it reads, so
 * responses and the timeout policy see exact expiries. Anything that sets a sandbox's expiry, state or
 * timeout outright (pause, resume, `…/timeout`, the reconciler) makes the entry go: from then on the row
 * alone is the truth again.
 */
export class UseExtensions {
  private readonly entries = new Map<string, Entry>();

  /** Records a use now; returns the database bound to write first, or undefined when the current one covers it. */
  record(id: string, timeoutSec: number, now: number): number | undefined {
    const entry = this.entries.get(id);
    const exact = now + timeoutSec * 1000;
    if (entry) {
      entry.lastUse = Math.max(entry.lastUse, now);
      if (entry.durable !== null && entry.durable >= exact) return undefined;
    } else {
      this.entries.set(id, { lastUse: now, durable: null });
    }
    return exact + EXPIRY_SLACK_MS;
  }

  /** After the bound was written (or found higher already): later extensions below it need no write. */
  written(id: string, bound: number): void {
    const entry = this.entries.get(id);
    if (entry) entry.durable = Math.max(entry.durable ?? 0, bound);
  }

  /**
   * The row with its exact expiry. A read may only lower what is known of the database's bound (a read
   * that raced an outright change could be stale; only this process's own writes raise it).
   */
  overlay(row: SandboxRow): SandboxRow {
    const entry = this.entries.get(row.id);
    if (!entry) return row;
    if (row.expires_at === null) entry.durable = null;
    else if (entry.durable !== null) entry.durable = Math.min(entry.durable, Number(row.expires_at));
    if (row.state !== 'running' || row.expires_at === null) return row;
    return { ...row, expires_at: entry.lastUse + Number(row.timeout_sec) * 1000 };
  }

  /** The row was set outright (state, expiry or timeout) or removed: it is the truth again. */
  forget(id: string): void {
    this.entries.delete(id);
  }

  /** Sandboxes with an exact expiry in memory (for a graceful stop to write them down). */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  lastUseOf(id: string): number | undefined {
    return this.entries.get(id)?.lastUse;
  }
}
