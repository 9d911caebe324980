import { AgentError } from './errors.js';

/**
 * Guest memory promised to sandboxes. Reservation is synchronous (check and take in one step), so parallel
 * creates can never together overcommit the host.
 */
export class MemoryBudget {
  private readonly reserved = new Map<string, number>();

  constructor(readonly totalMib: number) {}

  get committedMib(): number {
    let sum = 0;
    for (const mib of this.reserved.values()) sum += mib;
    return sum;
  }

  reserve(owner: string, mib: number): void {
    if (mib > this.totalMib) {
      throw new AgentError(
        'invalid_argument',
        `memory_mib ${mib} exceeds this host's memory budget of ${this.totalMib} MiB`,
      );
    }
    const free = this.totalMib - this.committedMib + (this.reserved.get(owner) ?? 0);
    if (mib > free) {
      throw new AgentError(
        'resource_exhausted',
        `not enough memory: ${mib} MiB requested, ${free} MiB of ${this.totalMib} MiB free on this host`,
      );
    }
    this.reserved.set(owner, mib);
  }

  release(owner: string): void {
    this.reserved.delete(owner);
  }
}
