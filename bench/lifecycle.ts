// The sandbox lifecycle on real VMs: lazy resume against QEMU's own full migrate-incoming restore,
// template spawn against a cold boot, re-pause cost by pages written, and a fork of 4. Resumes and spawns
// are medians of REPEATS (a sandbox paused and resumed again and again; a template spawned again and
// again, the first spawn learning its working set); the multi-second baselines are one run each.
import { pino } from 'pino';
import { startBenchAgent } from './lib/agent.js';
import { fullRestore } from './lib/full-restore.js';
import { median, progress, report } from './lib/report.js';

const MIB = 1 << 20;
const REPEATS = 5;
/** Long enough for a spawn's refills (a pooled QEMU, a network slot) and its predecessor's teardown. */
const SETTLE_MS = 1500;
const bench = await startBenchAgent({ memoryBudgetMib: 8192 });
const { client, agent } = bench;
const log = pino({ level: 'warn' }, process.stderr);

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

async function exec(id: string, cmd: string, args: string[] = []): Promise<void> {
  for await (const res of client.exec({ sandboxId: id, cmd, args })) {
    if (res.event.case === 'exit' && res.event.value.exitCode !== 0) throw new Error(`${cmd} failed`);
  }
}

/** A sandbox whose guest holds `touchMib` of live data, as a busy guest would. */
async function busySandbox(memoryMib: number, touchMib: number): Promise<string> {
  const { sandbox } = await client.createSandbox({ spec: { memoryMib } });
  if (!sandbox) throw new Error('no sandbox');
  await exec(sandbox.id, 'sh', ['-c', `head -c ${touchMib * MIB} /dev/urandom > /dev/shm/data`]);
  return sandbox.id;
}

async function resumeAgainstFullRestore(memoryMib: number, suffix: string, withExec: boolean): Promise<void> {
  const id = await busySandbox(memoryMib, 64);
  const ready: number[] = [];
  const toExec: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await client.pauseSandbox({ sandboxId: id });
    ready.push((await timed(() => client.resumeSandbox({ sandboxId: id })))[0]);
    if (!withExec) continue;
    await client.pauseSandbox({ sandboxId: id });
    const [ms] = await timed(async () => {
      await client.resumeSandbox({ sandboxId: id });
      await exec(id, 'true');
    });
    toExec.push(ms);
  }
  const readyMs = median(ready);
  const execMs = median(toExec);
  progress(`${memoryMib} MiB: lazy resume to ready ${ready.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  if (withExec)
    progress(`${memoryMib} MiB: lazy resume to exec ${toExec.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  const full = await fullRestore(agent.manager, id, log);
  progress(
    `${memoryMib} MiB: full restore to ready ${full.readyMs.toFixed(0)} ms, exec ${full.execMs.toFixed(0)} ms`,
  );
  report(`resume_to_ready_ms${suffix}`, readyMs, 'ms', {
    value: full.readyMs,
    ratio: full.readyMs / readyMs,
  });
  if (withExec)
    report('resume_to_exec_ms', execMs, 'ms', { value: full.execMs, ratio: full.execMs / execMs });
  await client.destroySandbox({ sandboxId: id });
}

try {
  await resumeAgainstFullRestore(512, '', true);
  await resumeAgainstFullRestore(2048, '_2g', false);

  const source = await busySandbox(512, 16);
  await client.createSnapshot({ sandboxId: source, name: 'bench' });
  const spawns: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const [ms, spawned] = await timed(() => client.createSandbox({ spec: { template: 'bench' } }));
    spawns.push(ms);
    await client.destroySandbox({ sandboxId: spawned.sandbox?.id ?? '' });
  }
  // The same, each spawn on a settled host: back to back, a spawn also waits for the QEMU its predecessor's
  // refill is still launching and shares the CPU with the namespace churn of the one just destroyed.
  const settled: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const [ms, spawned] = await timed(() => client.createSandbox({ spec: { template: 'bench' } }));
    settled.push(ms);
    await client.destroySandbox({ sandboxId: spawned.sandbox?.id ?? '' });
  }
  const spawnMs = median(spawns);
  const settledMs = median(settled);
  const [coldMs, cold] = await timed(() => client.createSandbox({ spec: { memoryMib: 512 } }));
  progress(
    `template spawn ${spawns.map((ms) => ms.toFixed(0)).join(', ')} ms back to back, ${settled.map((ms) => ms.toFixed(0)).join(', ')} ms settled, cold boot ${coldMs.toFixed(0)} ms`,
  );
  report('template_spawn_to_ready_ms', spawnMs, 'ms', { value: coldMs, ratio: coldMs / spawnMs });
  report('template_spawn_settled_ms', settledMs, 'ms', { value: coldMs, ratio: coldMs / settledMs });
  await client.destroySandbox({ sandboxId: cold.sandbox?.id ?? '' });

  // Re-pause after writing N MiB in a resumed guest: the cost should follow N, not the 512 MiB.
  await client.pauseSandbox({ sandboxId: source });
  for (const mib of [1, 8, 64]) {
    await client.resumeSandbox({ sandboxId: source });
    await exec(source, 'sh', ['-c', `head -c ${mib * MIB} /dev/urandom > /dev/shm/w${mib}`]);
    const [ms, res] = await timed(() => client.pauseSandbox({ sandboxId: source }));
    progress(`re-pause after ${mib} MiB: ${ms.toFixed(0)} ms, ${res.generationBytes} bytes`);
    report(`repause_ms_${mib}mib`, ms, 'ms');
    report(`generation_bytes_${mib}mib`, Number(res.generationBytes), 'bytes');
  }

  await client.resumeSandbox({ sandboxId: source });
  const [forkMs, forks] = await timed(() => client.forkSandbox({ sandboxId: source, count: 4 }));
  progress(`fork of 4: ${forkMs.toFixed(0)} ms`);
  report('fork4_to_ready_ms', forkMs, 'ms');
  for (const s of forks.sandboxes) await client.destroySandbox({ sandboxId: s.id });
} finally {
  await bench.stop();
}
