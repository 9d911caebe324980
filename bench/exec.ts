// Exec round trip of `true` through the agent's RPC, envd and the guest (one warm sandbox).
import { startBenchAgent } from './lib/agent.js';
import { percentile, progress, report } from './lib/report.js';

const WARMUP = 5;
const RUNS = 50;
const bench = await startBenchAgent();
try {
  const { sandbox } = await bench.client.createSandbox({ spec: { memoryMib: 512 } });
  const sandboxId = sandbox?.id ?? '';
  const times: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const started = performance.now();
    for await (const _ of bench.client.exec({ sandboxId, cmd: 'true' })) {
      // drain the stream: pid, then exit
    }
    if (i >= WARMUP) times.push(performance.now() - started);
  }
  progress(`${RUNS} runs, min ${Math.min(...times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms`);
  report('exec_roundtrip_p50_ms', percentile(times, 50), 'ms');
  report('exec_roundtrip_p99_ms', percentile(times, 99), 'ms');
} finally {
  await bench.stop();
}
