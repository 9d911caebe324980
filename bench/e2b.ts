// The e2b compatibility layer's cost: the published SDK's `commands.run('true')` (REST-free: envd proxy,
// Connect server stream, tunnel) against Amber's own `POST /v1/sandboxes/{id}/exec` of the same process,
// alternating on one warm sandbox in the same run. The SDK runs every command as `/bin/bash -l -c <cmd>`,
// a login shell that reads /etc/profile: the baseline runs that argv too, so the ratio is the proxy's cost
// and not bash's. What the login shell itself costs over `sh -c` is reported beside it.
import { Sandbox } from 'e2b';
import { startBenchControlPlane } from './lib/control-plane.js';
import { percentile, progress, report } from './lib/report.js';

const WARMUP = 5;
const RUNS = 40;

// AMBER_BENCH_HOME: reuse a home whose built-in base is already made (kept afterwards); default: a temp one.
const { cp, agent, close } = await startBenchControlPlane('e2b', process.env.AMBER_BENCH_HOME);
process.env.E2B_API_URL = `${cp.url}/e2b`;
process.env.E2B_SANDBOX_URL = `${cp.url}/e2b/envd`;
process.env.E2B_API_KEY = cp.apiKey;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

try {
  // A create can outlast the SDK's 60 s request timeout on a loaded emulating host.
  const sbx = await Sandbox.create({ timeoutMs: 3_600_000, requestTimeoutMs: 0 });
  progress(`sandbox ${sbx.sandboxId} up`);
  const viaSdk: number[] = [];
  const viaApi: number[] = [];
  const viaApiSh: number[] = [];
  const apiExec = (body: object) =>
    timed(async () => {
      const res = await fetch(`${cp.url}/v1/sandboxes/${sbx.sandboxId}/exec`, {
        method: 'POST',
        headers: { 'x-api-key': cp.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const result = (await res.json()) as { exitCode?: number };
      if (res.status !== 200 || result.exitCode !== 0) throw new Error(`exec: ${res.status}`);
    });
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const a = await timed(() => sbx.commands.run('true'));
    const b = await apiExec({ cmd: ['/bin/bash', '-l', '-c', 'true'] });
    const c = await apiExec({ command: 'true' });
    if (i >= WARMUP) {
      viaSdk.push(a);
      viaApi.push(b);
      viaApiSh.push(c);
    }
  }
  const sdkP50 = percentile(viaSdk, 50);
  const apiP50 = percentile(viaApi, 50);
  const shP50 = percentile(viaApiSh, 50);
  progress(
    `run('true') p50: e2b SDK ${sdkP50.toFixed(1)} ms, amber /v1 exec of bash -l -c ${apiP50.toFixed(1)} ms, of sh -c ${shP50.toFixed(1)} ms`,
  );
  report('e2b_run_p50_ms', sdkP50, 'ms', { value: apiP50, ratio: apiP50 / sdkP50 });
  report('exec_login_shell_extra_p50_ms', apiP50 - shP50, 'ms');
  await sbx.kill();
} finally {
  for (const s of agent.manager.list()) await agent.manager.destroy(s.id).catch(() => undefined);
  await close();
}
