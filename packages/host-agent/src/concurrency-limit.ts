/**
 * Runs at most `limit` operations at once; the rest wait their turn in arrival order. Restores use it:
 * on an emulated CPU a restore is CPU-bound, and twenty guests time-slicing two cores each take longer
 * in wall time, and so in timer work and cache misses, than the same twenty a few at a time.
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`a concurrency limit must be 1 or more, got ${limit}`);
    this.#limit = limit;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#running++;
    try {
      return await fn();
    } finally {
      // The permit passes straight to the next in line, so a newcomer cannot overtake it.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
