import { readFileSync, statfsSync } from 'node:fs';
import { cpus } from 'node:os';

export interface Metrics {
  ts: number;
  cpu_count: number;
  cpu_used_pct: number;
  mem_total: number;
  mem_used: number;
  mem_cache: number;
  mem_total_mib: number;
  mem_used_mib: number;
  disk_used: number;
  disk_total: number;
}

interface CpuSample {
  busy: number;
  total: number;
}

function cpuSample(): CpuSample {
  // First line of /proc/stat: user nice system idle iowait irq softirq steal ...
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+)/.exec(line);
    if (match?.[1] && match[2]) out[match[1]] = Number(match[2]) * 1024;
  }
  return out;
}

/** GET /metrics as E2B's envd answers it; CPU % is over the time since the previous call (as gopsutil's). */
export class MetricsSampler {
  #last: CpuSample | undefined;

  read(): Metrics {
    const now = cpuSample();
    const last = this.#last ?? { busy: 0, total: 0 };
    this.#last = now;
    const dt = now.total - last.total;
    const mem = meminfo();
    const total = mem.MemTotal ?? 0;
    const used = total - (mem.MemAvailable ?? mem.MemFree ?? 0);
    const disk = statfsSync('/');
    return {
      ts: Math.floor(Date.now() / 1000),
      cpu_count: cpus().length,
      cpu_used_pct: dt > 0 ? Math.round(((now.busy - last.busy) / dt) * 10000) / 100 : 0,
      mem_total: total,
      mem_used: used,
      mem_cache: (mem.Cached ?? 0) + (mem.Buffers ?? 0),
      mem_total_mib: Math.floor(total / (1 << 20)),
      mem_used_mib: Math.floor(used / (1 << 20)),
      disk_used: (disk.blocks - disk.bfree) * disk.bsize,
      disk_total: disk.blocks * disk.bsize,
    };
  }
}
