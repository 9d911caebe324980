// Whether a guest is busy, seen from the host: the time QEMU's vCPU threads ran or waited to run (/proc
// schedstat: run time plus run-queue wait, in ns). An idle guest halts its vCPUs and their threads sleep;
// a busy one on a loaded host may wait for a CPU instead of running, which is still busy. A running
// thread's count moves only at scheduler ticks (4 ms at HZ=250), so windows much shorter than ~20 ms can
// mistake busy for idle.
import { readdir, readFile } from 'node:fs/promises';

// With -name debug-threads=on: "CPU 0/KVM", "CPU 1/TCG", or "ALL CPUs/TCG" for single-threaded TCG.
const VCPU_THREAD = /\/(KVM|TCG)$/;
const POLL_MS = 1;

export interface IdleOptions {
  /** How long the vCPUs must stay (almost) still to count as idle. */
  quietMs?: number;
  /** Give up after this long: a guest with work of its own never goes idle. */
  maxMs?: number;
}

async function vcpuThreads(pid: number): Promise<string[]> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const named = await Promise.all(
    tasks.map(async (tid) => {
      const comm = await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '');
      return VCPU_THREAD.test(comm.trim()) ? `/proc/${pid}/task/${tid}/schedstat` : undefined;
    }),
  );
  return named.filter((path): path is string => path !== undefined);
}

async function busyNs(schedstats: string[]): Promise<number> {
  const times = await Promise.all(
    schedstats.map(async (path) => {
      const [run, wait] = (await readFile(path, 'utf8')).split(' ');
      return Number(run) + Number(wait);
    }),
  );
  return times.reduce((sum, ns) => sum + ns, 0);
}

/**
 * Resolves true once the vCPUs of QEMU `pid` ran for under a tenth of a `quietMs` window, false if that
 * did not happen within `maxMs` (or there are no vCPU threads to watch, or QEMU is gone).
 */
export async function waitVcpusIdle(pid: number, options: IdleOptions = {}): Promise<boolean> {
  // A QEMU that exits meanwhile is not idle; whoever talks to it next gets the real error.
  return watch(pid, options).catch(() => false);
}

async function watch(pid: number, options: IdleOptions): Promise<boolean> {
  const quietNs = (options.quietMs ?? 20) * 1e6;
  const deadline = performance.now() + (options.maxMs ?? 100);
  const threads = await vcpuThreads(pid);
  if (threads.length === 0) return false;
  const samples: Array<{ at: number; ns: number }> = [];
  for (;;) {
    const at = performance.now() * 1e6;
    const ns = await busyNs(threads);
    samples.push({ at, ns });
    while (samples.length > 1 && at - (samples[1]?.at ?? at) >= quietNs) samples.shift();
    const first = samples[0];
    if (first && at - first.at >= quietNs && ns - first.ns < (at - first.at) / 10) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
