/** Milliseconds spent in each named step of an operation, for a structured log line. */
export class PhaseTimer {
  readonly #phases: Record<string, number> = {};
  #last = performance.now();

  mark(name: string): void {
    const now = performance.now();
    this.#phases[name] = Math.round((now - this.#last) * 10) / 10;
    this.#last = now;
  }

  done(): Record<string, number> {
    return { ...this.#phases };
  }
}
