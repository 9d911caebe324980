// The sandbox lifecycle on real VMs: lazy resume against QEMU's own full migrate-incoming restore,
// template spawn against a cold boot, re-pause cost by pages written, and a fork of 4. One run each
// (a VM on TCG takes seconds; the ratios are what count on a noisy machine).
import { pino } from 'pino';
import { startBenchAgent } from './lib/agent.js';
import { fullRestore } from './lib/full-restore.js';
import { progress, report } from './lib/report.js';

const MIB = 1 << 20;
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
  await client.pauseSandbox({ sandboxId: id });
  const [readyMs] = await timed(() => client.resumeSandbox({ sandboxId: id }));
  progress(`${memoryMib} MiB: lazy resume to ready ${readyMs.toFixed(0)} ms`);
  let execMs = 0;
  if (withExec) {
    await client.pauseSandbox({ sandboxId: id });
    [execMs] = await timed(async () => {
      await client.resumeSandbox({ sandboxId: id });
      await exec(id, 'true');
    });
    progress(`${memoryMib} MiB: lazy resume to exec ${execMs.toFixed(0)} ms`);
  }
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
  const [spawnMs, spawned] = await timed(() => client.createSandbox({ spec: { template: 'bench' } }));
  const [coldMs, cold] = await timed(() => client.createSandbox({ spec: { memoryMib: 512 } }));
  progress(`template spawn ${spawnMs.toFixed(0)} ms, cold boot ${coldMs.toFixed(0)} ms`);
  report('template_spawn_to_ready_ms', spawnMs, 'ms', { value: coldMs, ratio: coldMs / spawnMs });
  for (const s of [spawned.sandbox, cold.sandbox]) await client.destroySandbox({ sandboxId: s?.id ?? '' });

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
