// /init answers as soon as it has the host's time and sets the guest clock right after: the kernel's side of
// a clock change costs a restored guest ~7 ms of emulated CPU that readiness need not wait for. Anything
// that could observe the clock (a new process, a file write) waits for it first, so nobody sees it stale.
// The control channel's thread sets it outside JS (`settingElsewhere`).
export class ClockGate {
  #pending: Promise<void> = Promise.resolve();

  constructor(private readonly settingElsewhere?: () => boolean) {}

  set(setting: Promise<void>): void {
    this.#pending = setting.catch((err) => {
      process.stderr.write(`envd: setting the clock failed: ${err}\n`);
    });
  }

  async settled(): Promise<void> {
    await this.#pending;
    // A few ms of emulated kernel work at most, and only when a request races a restore's init.
    while (this.settingElsewhere?.()) await new Promise((r) => setTimeout(r, 1));
  }
}
