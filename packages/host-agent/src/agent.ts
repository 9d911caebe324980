import { mkdir } from 'node:fs/promises';
import { ensureImage, type Image } from '@amber/image';
import { resolveMachineType } from '@amber/vmm';
import { type Logger, pino } from 'pino';
import { type AgentConfig, loadConfig } from './config.js';
import type { StopReport } from './graceful-stop.js';
import { newGuestMachine } from './guest-vm.js';
import { recoverSandboxes } from './recovery.js';
import type { HostAgentConnection } from './rpc/client.js';
import { assertListenAllowed } from './rpc/listen-address.js';
import { connectLocalHostAgent } from './rpc/local.js';
import { type AgentServer, startRpcServer } from './rpc/server.js';
import { SandboxManager } from './sandbox-manager.js';
import { type GuestTunnel, startGuestTunnel, tunnelPath } from './tunnel/guest-tunnel.js';

export interface AgentOptions {
  config?: Partial<AgentConfig>;
  log?: Logger;
  /** Use this image instead of resolving (and if needed building) the current one. */
  image?: Image;
}

export interface RunningAgent {
  config: AgentConfig;
  manager: SandboxManager;
  server: AgentServer;
  /** A client that calls this agent in process (rpc/local.ts), for a control plane that runs it. */
  connectLocal(): HostAgentConnection;
  /** Stops serving, then pauses every running sandbox (graceful-stop.ts) for the next agent to resume. */
  close(): Promise<StopReport>;
  /** Raw byte pipes to guest ports (tunnel/guest-tunnel.ts). */
  tunnel: GuestTunnel;
}

export async function startAgent(options: AgentOptions = {}): Promise<RunningAgent> {
  const loaded = loadConfig(options.config);
  // Versioned, so every snapshot records the type its VM really had, not an alias a QEMU upgrade moves.
  const config = { ...loaded, machine: await resolveMachineType(loaded.machine) };
  const log = options.log ?? pino({ level: process.env.AMBER_LOG_LEVEL ?? 'info' });
  // Before anything starts (recovery, network slots, a pooled QEMU): a refusal leaves nothing running.
  assertListenAllowed(config.listen, config.token);
  await mkdir(config.home, { recursive: true });
  const image = options.image ?? (await ensureImage({ cacheDir: config.cacheDir })).image;
  const survivors = await recoverSandboxes(config, log);
  const manager = new SandboxManager(config, image, log);
  manager.load(survivors);
  manager.startReaper();
  void manager.slots.fill(); // in the background: the first sandbox need not wait for a namespace
  // And a QEMU for the first restore (resume or template spawn) of a default-sized sandbox.
  manager.pool.prepare({
    vcpus: config.defaults.vcpus,
    memoryMib: config.defaults.memoryMib,
    image,
    ...newGuestMachine(config),
  });
  const server = await startRpcServer(manager, config.listen, config.token);
  const tunnel = await startGuestTunnel(manager, tunnelPath(config.home), log.child({ component: 'tunnel' }));
  log.info(
    { listen: server.url, accel: config.accel, image: image.id, budgetMib: config.memoryBudgetMib },
    'host agent ready',
  );
  let serving = true;
  return {
    config,
    manager,
    server,
    tunnel,
    connectLocal: () => connectLocalHostAgent(manager, () => serving),
    close: async () => {
      serving = false;
      await tunnel.close();
      await server.close();
      const report = await manager.pauseAllForStop();
      await manager.close();
      return report;
    },
  };
}
