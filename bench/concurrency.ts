// Template spawns under load, on real VMs: 20 at once (until all are ready) against 20 one after another in
// the same run, and how many idle 512 MiB sandboxes from one template fit in the memory budget, with the
// host memory each really uses (QEMU's RSS, guest pages included).
import { readFileSync } from 'node:fs';
import { loadConfig, qemuOverheadMib } from '@amber/host-agent';
import { startBenchAgent } from './lib/agent.js';
import { startCpuMeter } from './lib/cpu-meter.js';
import { median, progress, report } from './lib/report.js';

const COUNT = Number(process.env.AMBER_BENCH_SPAWNS ?? 20);
const MEMORY_MIB = 512;
const IDLE_SAMPLE = Number(process.env.AMBER_BENCH_IDLE ?? 10);
// Promises, not pages: lazily restored guests touch a fraction of their RAM. A host that expects bursts of
// COUNT keeps COUNT QEMUs ahead (each ~35 MiB idle); both runs below start from a full pool.
const bench = await startBenchAgent({ memoryBudgetMib: 64 * 1024, vmPoolDepth: COUNT });
const { client, agent } = bench;

async function spawn(): Promise<string> {
  const { sandbox } = await client.createSandbox({ spec: { template: 'bench' } });
  if (!sandbox) throw new Error('no sandbox');
  return sandbox.id;
}

async function destroyAll(ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => client.destroySandbox({ sandboxId: id })));
}

/** The pool refills once spawns have been quiet for a while; a burst is ahead of it only once it is full. */
async function poolFull(): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (agent.manager.pool.readyTotal < COUNT) {
    if (Date.now() > deadline)
      throw new Error(`the VM pool holds ${agent.manager.pool.readyTotal} of ${COUNT}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function rssMib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
}

try {
  const { sandbox } = await client.createSandbox({ spec: { memoryMib: MEMORY_MIB } });
  if (!sandbox) throw new Error('no sandbox');
  await client.createSnapshot({ sandboxId: sandbox.id, name: 'bench' });
  await client.destroySandbox({ sandboxId: sandbox.id });
  await destroyAll([await spawn()]); // the first spawn learns the template's working set
  await poolFull();

  const sequentialStarted = performance.now();
  const sequentialCpu = startCpuMeter();
  const sequential: string[] = [];
  for (let i = 0; i < COUNT; i++) sequential.push(await spawn());
  const sequentialMs = performance.now() - sequentialStarted;
  const sequentialUse = sequentialCpu();
  progress(`${COUNT} spawns one after another: ${sequentialMs.toFixed(0)} ms`);
  await destroyAll(sequential);
  await poolFull();

  const concurrentStarted = performance.now();
  const concurrentCpu = startCpuMeter();
  const concurrent = await Promise.all(Array.from({ length: COUNT }, () => spawn()));
  const concurrentMs = performance.now() - concurrentStarted;
  const concurrentUse = concurrentCpu();
  progress(`${COUNT} spawns at once: ${concurrentMs.toFixed(0)} ms`);
  report(`spawn_${COUNT}_concurrent_ms`, concurrentMs, 'ms', {
    value: sequentialMs,
    ratio: sequentialMs / concurrentMs,
  });
  // Running at once can only be faster by the cores that one-after-another left idle.
  report('spawn_sequential_busy_cores', sequentialUse.busyCores, 'cores');
  report('spawn_concurrent_busy_cores', concurrentUse.busyCores, 'cores');
  report('spawn_sequential_cpu_ms_each', (sequentialUse.cpuSeconds * 1000) / COUNT, 'ms');
  report('spawn_concurrent_cpu_ms_each', (concurrentUse.cpuSeconds * 1000) / COUNT, 'ms');

  // Idle for a while, then what each really holds.
  const idle = concurrent.slice(0, IDLE_SAMPLE);
  await destroyAll(concurrent.slice(IDLE_SAMPLE));
  await new Promise((r) => setTimeout(r, 5000));
  const rss = idle.map((id) => rssMib(agent.manager.get(id).qemuPid ?? 0));
  const perSandbox = MEMORY_MIB + qemuOverheadMib(agent.config);
  progress(`idle RSS per sandbox (MiB): ${rss.map((r) => r.toFixed(0)).join(', ')}`);
  // This host's own budget (total memory less the reserve), not the bench's inflated one.
  const defaultBudget = loadConfig().memoryBudgetMib;
  report('idle_density', Math.floor(defaultBudget / perSandbox), 'sandboxes');
  report('idle_density_by_rss', Math.floor(defaultBudget / median(rss)), 'sandboxes');
  report('idle_rss_mib', median(rss), 'MiB');
  report('idle_reserved_mib', perSandbox, 'MiB');
  await destroyAll(idle);
} finally {
  await bench.stop();
}
