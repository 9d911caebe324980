import { readFileSync } from 'node:fs';

/** The whole host's busy CPU time from /proc/stat (all but idle and iowait), in clock ticks. */
function busyTicks(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number) as number[];
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

/** USER_HZ: 100 on every Linux this runs on (it is fixed in the kernel's ABI for x86_64). */
const TICKS_PER_SECOND = 100;

/**
 * How busy the host's cores were over a stretch of a bench: whether work that ran one after another
 * already kept every core busy (then running it at once cannot be faster) or left cores idle.
 */
export function startCpuMeter(): () => { busyCores: number; cpuSeconds: number } {
  const before = busyTicks();
  const started = performance.now();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = (busyTicks() - before) / TICKS_PER_SECOND;
    return { busyCores: cpuSeconds / seconds, cpuSeconds };
  };
}
