import { AgentError } from './errors.js';

/**
 * Host memory promised to sandboxes (guest RAM plus their QEMU's own overhead) and held by QEMUs launched
 * ahead (vm-pool.ts). Reservation is synchronous (check and take in one step), so parallel creates can never
 * together overcommit the host.
 */
export class MemoryBudget {
  private readonly reserved = new Map<string, number>();
  private readonly held = new Map<string, number>();

  constructor(readonly totalMib: number) {}

  /** Promised to sandboxes. */
  get committedMib(): number {
    return sum(this.reserved);
  }

  /** Held by pooled QEMUs waiting for a restore. */
  get heldMib(): number {
    return sum(this.held);
  }

  reserve(owner: string, mib: number): void {
    if (mib > this.totalMib) {
      throw new AgentError(
        'invalid_argument',
        `a sandbox of ${mib} MiB (guest memory and QEMU's overhead) exceeds this host's memory budget of ${this.totalMib} MiB`,
      );
    }
    // Pooled QEMUs give way: a sandbox that fits without them is never refused for them.
    const free = this.totalMib - this.committedMib + (this.reserved.get(owner) ?? 0);
    if (mib > free) {
      throw new AgentError(
        'resource_exhausted',
        `not enough memory: ${mib} MiB requested (guest memory and QEMU's overhead), ${free} MiB of ${this.totalMib} MiB free on this host`,
      );
    }
    this.reserved.set(owner, mib);
  }

  release(owner: string): void {
    this.reserved.delete(owner);
  }

  /** Takes `mib` for a pooled QEMU if it fits beside everything promised and held; false if it does not. */
  tryHold(owner: string, mib: number): boolean {
    if (this.committedMib + this.heldMib + mib > this.totalMib) return false;
    this.held.set(owner, mib);
    return true;
  }

  releaseHold(owner: string): void {
    this.held.delete(owner);
  }
}

function sum(map: Map<string, number>): number {
  let total = 0;
  for (const mib of map.values()) total += mib;
  return total;
}
