// /init answers as soon as it has the host's time; setting the guest clock (a short process under
// emulation, ~200 ms on TCG) finishes in the background. Anything that could observe the clock — a new
// process, a file write — waits for it first, so nobody sees the stale time.
export class ClockGate {
  #pending: Promise<void> = Promise.resolve();

  set(setting: Promise<void>): void {
    this.#pending = setting.catch((err) => {
      process.stderr.write(`envd: setting the clock failed: ${err}\n`);
    });
  }

  settled(): Promise<void> {
    return this.#pending;
  }
}
