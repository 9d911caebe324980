import { readdirSync, readFileSync } from 'node:fs';

/** The whole host's busy CPU time from /proc/stat (all but idle and iowait), in clock ticks. */
function busyTicks(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number) as number[];
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

/** USER_HZ: 100 on every Linux this runs on (it is fixed in the kernel's ABI for x86_64). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, in ticks) of every live QEMU process, by pid. */
function qemuTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited since the listing
    }
    if (!stat.includes(' (qemu-system-')) continue;
    // Fields after the command name: state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
  }
  return ticks;
}

export interface CpuUse {
  busyCores: number;
  cpuSeconds: number;
  /** QEMU processes' share (those that exit before the end are missed, so it is a lower bound). */
  qemuSeconds: number;
  /** This process's share: the agent runs in the bench's process, its pagers on threads of it. */
  agentSeconds: number;
}

/**
 * How busy the host's cores were over a stretch of a bench: whether work that ran one after another
 * already kept every core busy (then running it at once cannot be faster) or left cores idle, and whose
 * CPU it was.
 */
export function startCpuMeter(): () => CpuUse {
  const before = busyTicks();
  const qemuBefore = qemuTicks();
  const agentBefore = process.cpuUsage();
  const started = performance.now();
  return () => {
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = (busyTicks() - before) / TICKS_PER_SECOND;
    let qemu = 0;
    for (const [pid, ticks] of qemuTicks()) qemu += ticks - (qemuBefore.get(pid) ?? 0);
    const agent = process.cpuUsage(agentBefore);
    return {
      busyCores: cpuSeconds / seconds,
      cpuSeconds,
      qemuSeconds: qemu / TICKS_PER_SECOND,
      agentSeconds: (agent.user + agent.system) / 1e6,
    };
  };
}

/**
 * CPU time the threads of process `pid` have run (those whose name `thread` accepts; all by default), in ms
 * (schedstat: ns, not the 10 ms ticks of stat).
 */
export function processCpuMs(pid: number, thread: (name: string) => boolean = () => true): number {
  let ms = 0;
  for (const threadMs of threadCpuMs(pid, thread).values()) ms += threadMs;
  return ms;
}

/** CPU time of each live thread of `pid` that `thread` accepts, in ms, by thread id. */
export function threadCpuMs(
  pid: number,
  thread: (name: string) => boolean = () => true,
): Map<string, number> {
  const ms = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    if (!thread(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim())) continue;
    ms.set(tid, Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
  }
  return ms;
}

/**
 * What `pid`'s threads ran since `before` (from threadCpuMs). Per thread: a sum over the live threads went
 * negative when one of QEMU's idle worker threads exited between the two readings and took its time along.
 */
export function cpuSinceMs(pid: number, before: Map<string, number>): number {
  let ms = 0;
  for (const [tid, now] of threadCpuMs(pid)) ms += now - (before.get(tid) ?? 0);
  return ms;
}

/** CPU time of every live QEMU process's threads that `thread` accepts, in ms, by pid (see processCpuMs). */
export function qemuCpuMs(thread: (name: string) => boolean): Map<number, number> {
  const ms = new Map<number, number>();
  for (const pid of qemuTicks().keys()) {
    try {
      ms.set(pid, processCpuMs(pid, thread));
    } catch {
      // exited since the listing
    }
  }
  return ms;
}

/** QEMU's vCPU threads ("CPU 0/TCG", "ALL CPUs/TCG", "CPU 1/KVM"): the guest's own work. */
export const isVcpuThread = (name: string): boolean => /\/(TCG|KVM)$/.test(name);
