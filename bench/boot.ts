// Cold boot: CreateSandbox (overlay, netns, QEMU start) until envd answers /health. Median of 5.
import { startBenchAgent } from './lib/agent.js';
import { median, progress, report } from './lib/report.js';

const RUNS = 5;
const bench = await startBenchAgent();
try {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const { sandbox } = await bench.client.createSandbox({ spec: { memoryMib: 512 } });
    times.push(performance.now() - started);
    progress(`boot ${i + 1}/${RUNS}: ${times.at(-1)?.toFixed(0)} ms`);
    await bench.client.destroySandbox({ sandboxId: sandbox?.id ?? '' });
  }
  report('boot_to_healthy_ms', median(times), 'ms');
} finally {
  await bench.stop();
}
