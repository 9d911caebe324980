import { startBenchAgent } from './lib/agent.js';
import { median } from './lib/report.js';
const bench = await startBenchAgent({ memoryBudgetMib: 8192 });
const { client } = bench;
const { sandbox } = await client.createSandbox({ spec: { memoryMib: 512 } });
const id = sandbox!.id;
for await (const _ of client.exec({ sandboxId: id, cmd: 'sh', args: ['-c', 'head -c 67108864 /dev/urandom > /dev/shm/data'] }));
const ms: number[] = [];
for (let i = 0; i < 8; i++) {
  await client.pauseSandbox({ sandboxId: id });
  const t = performance.now();
  await client.resumeSandbox({ sandboxId: id });
  ms.push(performance.now() - t);
}
console.log(JSON.stringify({ env: process.env.PROBE, resume: ms.map((x) => Math.round(x)), median: Math.round(median(ms)) }));
await bench.stop();
