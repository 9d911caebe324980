import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ControlPlaneOptions, type RunningControlPlane, startControlPlane } from '@amber/control-plane';
import type { RunningAgent } from '@amber/host-agent';
import { pino } from 'pino';

export interface BenchControlPlane {
  cp: RunningControlPlane;
  agent: RunningAgent;
  /** Stops it and removes what it made (a given home is kept). */
  close(): Promise<void>;
}

/** A control plane with its agent in-process, in a temp home (or `home`), guest RAM in a directory of its own. */
export async function startBenchControlPlane(
  name: string,
  home?: string,
  options: Partial<ControlPlaneOptions> = {},
): Promise<BenchControlPlane> {
  const dir = home ?? (await mkdtemp(join(tmpdir(), `amber-bench-${name}-`)));
  const shmDir = await mkdtemp(`/dev/shm/bench-${name}-`);
  const cp = await startControlPlane({
    home: dir,
    port: 0,
    log: pino({ level: process.env.AMBER_LOG_LEVEL ?? 'warn' }, process.stderr),
    agentConfig: { home: dir, shmDir, listen: `unix:${join(dir, 'agent.sock')}` },
    ...options,
  });
  const agent = cp.agent;
  if (!agent) throw new Error('the bench needs the in-process agent');
  return {
    cp,
    agent,
    close: async () => {
      await cp.close();
      if (!home) await rm(dir, { recursive: true, force: true });
      await rm(shmDir, { recursive: true, force: true });
    },
  };
}
