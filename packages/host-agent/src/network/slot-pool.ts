import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Egress } from './egress.js';
import { createNetworkSlot, destroyNetworkSlot, type NetworkSlot } from './network-slot.js';

/** Refills wait this long, so their `ip` processes do not take CPU from the guest that was just started. */
const REFILL_DELAY_MS = 200;

/**
 * Network slots made ahead of time. A namespace with its tap takes two `ip` processes (~7-15 ms here), the
 * longest step of a restore's setup. Slots are named `<prefix><random>`; a slot is used once and
 * destroyed with its sandbox's runtime, so no traffic or state ever passes from one sandbox to the next.
 * After a crash, the next start of the agent removes every namespace under its prefix (recovery.ts).
 * With `planEgress`, each slot also gets its way out ahead (a veth and NAT: ~5 more `ip`/`nft` processes,
 * which on the restore path made a resume ~3x slower); a sandbox without internet removes it again
 * (egress.ts). Both run in one shell (commands.ts).
 */
export class NetworkSlotPool {
  readonly #ready: NetworkSlot[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;

  /** `prefix`: namespacePrefix() of the agent's home. */
  constructor(
    private readonly prefix: string,
    private readonly size: number,
    private readonly log: Logger,
    private readonly planEgress?: (netns: string) => Promise<{ egress: Egress; script: string[] }>,
  ) {}

  /** A ready slot if there is one, else a new one made now; then the pool refills in the background. */
  async take(): Promise<NetworkSlot> {
    const slot = this.#ready.shift() ?? (await this.#create());
    this.#refill();
    return slot;
  }

  /** Slots ready now (for tests and metrics). */
  get readyCount(): number {
    return this.#ready.length;
  }

  /** Fills the pool now and resolves when it is full (or closed). */
  async fill(): Promise<void> {
    this.#refill(0);
    await this.#filling;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#filling;
    for (const slot of this.#ready.splice(0)) await destroyNetworkSlot(slot.netns);
  }

  async #create(): Promise<NetworkSlot> {
    const netns = `${this.prefix}${randomBytes(6).toString('hex')}`;
    const way = await this.planEgress?.(netns);
    const slot = await createNetworkSlot(netns, way?.script);
    return way ? { ...slot, egress: way.egress } : slot;
  }

  #refill(delayMs = REFILL_DELAY_MS): void {
    if (this.#filling || this.#closed || this.#ready.length >= this.size) return;
    this.#filling = (async () => {
      await new Promise((r) => setTimeout(r, delayMs));
      while (!this.#closed && this.#ready.length < this.size) {
        this.#ready.push(await this.#create());
      }
    })()
      // Only speed is lost: take() makes a slot itself when none is ready.
      .catch((err) => this.log.warn({ err }, 'cannot fill the network slot pool'))
      .finally(() => {
        this.#filling = undefined;
      });
  }
}
