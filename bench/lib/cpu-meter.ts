import { readFileSync } from 'node:fs';

/** The whole host's CPU time from /proc/stat, in clock ticks: busy (all but idle and iowait) and total. */
function hostTicks(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number) as number[];
  const busy = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { busy, total: busy + (idle ?? 0) + (iowait ?? 0) };
}

/** USER_HZ: 100 on every Linux this runs on (it is fixed in the kernel's ABI for x86_64). */
const TICKS_PER_SECOND = 100;

/**
 * How busy the host's cores were over a stretch of a bench: whether work that ran one after another
 * already kept every core busy (then running it at once cannot be faster) or left cores idle.
 */
export function startCpuMeter(): () => { busyCores: number; cpuSeconds: number } {
  const before = hostTicks();
  const started = performance.now();
  return () => {
    const after = hostTicks();
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = (after.busy - before.busy) / TICKS_PER_SECOND;
    return { busyCores: cpuSeconds / seconds, cpuSeconds };
  };
}
