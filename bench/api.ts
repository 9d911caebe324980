// The control plane's cost over the host agent: exec, template create and default create through the REST
// API, each against the same operation on the agent directly (or a cold boot) in the same run.
import { connectHostAgent } from '@amber/host-agent';
import { startBenchControlPlane } from './lib/control-plane.js';
import { percentile, progress, report } from './lib/report.js';

const EXEC_WARMUP = 5;
const EXEC_RUNS = 50;
const CREATE_RUNS = 8;
const COLD_RUNS = 3;

const { cp, agent, close } = await startBenchControlPlane('api');
const direct = connectHostAgent(agent.server.url);
const headers = { 'x-api-key': cp.apiKey, 'content-type': 'application/json' };

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${cp.url}${path}`, {
    method,
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** "Times better than the baseline": below 1 when the API is slower, as it must be, by a little. */
const vs = (value: number, baseline: number) => ({ value: baseline, ratio: baseline / value });

try {
  const sandbox = await api('POST', '/v1/sandboxes', { timeoutSec: 3600 });
  const id = sandbox.id as string;
  progress(`sandbox ${id} up`);

  // Exec: API and agent alternate on one warm sandbox, so both see the same guest and host load.
  const viaApi: number[] = [];
  const viaAgent: number[] = [];
  for (let i = 0; i < EXEC_WARMUP + EXEC_RUNS; i++) {
    const a = await timed(() => api('POST', `/v1/sandboxes/${id}/exec`, { cmd: ['true'] }));
    const b = await timed(async () => {
      for await (const _ of direct.client.exec({ sandboxId: id, cmd: 'true' })) {
        // drain: pid, exit
      }
    });
    if (i >= EXEC_WARMUP) {
      viaApi.push(a);
      viaAgent.push(b);
    }
  }
  const [apiP50, agentP50, apiP99, agentP99] = [
    percentile(viaApi, 50),
    percentile(viaAgent, 50),
    percentile(viaApi, 99),
    percentile(viaAgent, 99),
  ] as [number, number, number, number];
  progress(`exec p50 api ${apiP50.toFixed(1)} ms, agent ${agentP50.toFixed(1)} ms`);
  report('api_exec_p50_ms', apiP50, 'ms', vs(apiP50, agentP50));
  report('api_exec_p99_ms', apiP99, 'ms', vs(apiP99, agentP99));

  // Template create: a user snapshot, spawned through the API and by the agent directly.
  await api('POST', '/v1/snapshots', { sandboxId: id, name: 'bench-template' });
  const row = await cp.db.db
    .selectFrom('templates')
    .select('agent_name')
    .where('name', '=', 'bench-template')
    .executeTakeFirstOrThrow();
  const apiSpawn: number[] = [];
  const agentSpawn: number[] = [];
  for (let i = 0; i < CREATE_RUNS; i++) {
    let made = '';
    apiSpawn.push(
      await timed(
        async () => (made = (await api('POST', '/v1/sandboxes', { template: 'bench-template' })).id),
      ),
    );
    await api('DELETE', `/v1/sandboxes/${made}`);
    let spawned = '';
    agentSpawn.push(
      await timed(async () => {
        spawned =
          (await direct.client.createSandbox({ spec: { template: row.agent_name } })).sandbox?.id ?? '';
      }),
    );
    await direct.client.destroySandbox({ sandboxId: spawned });
  }
  const [tplApi, tplAgent] = [percentile(apiSpawn, 50), percentile(agentSpawn, 50)];
  progress(`template create p50 api ${tplApi.toFixed(1)} ms, agent ${tplAgent.toFixed(1)} ms`);
  report('api_template_create_p50_ms', tplApi, 'ms', vs(tplApi, tplAgent));

  // Default create (a spawn from the built-in base) against a cold boot of the image.
  const creates: number[] = [];
  for (let i = 0; i < CREATE_RUNS; i++) {
    let made = '';
    creates.push(await timed(async () => (made = (await api('POST', '/v1/sandboxes', {})).id)));
    await api('DELETE', `/v1/sandboxes/${made}`);
  }
  const cold: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    let booted = '';
    cold.push(
      await timed(async () => (booted = (await api('POST', '/v1/sandboxes', { template: null })).id)),
    );
    await api('DELETE', `/v1/sandboxes/${booted}`);
  }
  const [createP50, coldP50] = [percentile(creates, 50), percentile(cold, 50)];
  progress(`create p50 ${createP50.toFixed(1)} ms, cold boot ${coldP50.toFixed(1)} ms`);
  report('api_create_p50_ms', createP50, 'ms', vs(createP50, coldP50));
  // Through the API, so the row goes too (the stop would otherwise try to pause what the agent no longer has).
  await api('DELETE', `/v1/sandboxes/${id}`);
} finally {
  for (const s of agent.manager.list()) await agent.manager.destroy(s.id).catch(() => undefined);
  direct.close();
  await close();
}
