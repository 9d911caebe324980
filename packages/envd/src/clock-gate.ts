// /init answers as soon as it has the host's time and sets the guest clock right after: the kernel's side of
// a clock change costs a restored guest ~7 ms of emulated CPU that readiness need not wait for. Anything
// that could observe the clock (a new process, a file write) waits for it first, so nobody sees it stale.
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
