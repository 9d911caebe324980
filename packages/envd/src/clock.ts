import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Sets the guest's wall clock to the host's time. After a snapshot restore the guest clock is stale by the
 * length of the pause. Node has no settimeofday, so GNU date does it; the time spent spawning it is added.
 */
export async function setClock(hostTimeMs: number, receivedAt = performance.now()): Promise<void> {
  const target = hostTimeMs + (performance.now() - receivedAt);
  // Spawning under emulation takes ~100 ms; aim slightly ahead so the error stays small and centred.
  const seconds = (target + 50) / 1000;
  await execFileAsync('date', ['-u', '-s', `@${seconds.toFixed(6)}`]);
}
