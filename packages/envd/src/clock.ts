import type { GuestShell } from './guest-shell.js';

/**
 * Sets the guest's wall clock to the host's time. After a snapshot restore the guest clock is stale by the
 * length of the pause. Node has no settimeofday, so GNU date does it; the time spent spawning it is added.
 */
export async function setClock(
  shell: GuestShell,
  hostTimeMs: number,
  receivedAt = performance.now(),
): Promise<void> {
  const target = hostTimeMs + (performance.now() - receivedAt);
  // GNU date (fractional seconds), forked from the small shell: a few ms even under emulation.
  const seconds = (target + 5) / 1000;
  await shell.run(`/bin/date -u -s @${seconds.toFixed(6)} >/dev/null`);
}
