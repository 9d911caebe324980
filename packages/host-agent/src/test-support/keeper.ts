// Drives memory-keeper.ts in a sandbox through the host agent's RPC.
import type { HostAgentClient } from '../rpc/client.js';
import { MEMORY_KEEPER_JS } from './memory-keeper.js';
import { execText, readText, writeText } from './test-agent.js';

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startKeeper(client: HostAgentClient, id: string, mib = 64): Promise<void> {
  await writeText(client, id, '/tmp/keeper.js', MEMORY_KEEPER_JS);
  const run = await execText(client, id, 'sh', ['-c', `node /tmp/keeper.js ${mib} >/tmp/keeper.log 2>&1 &`]);
  if (run.exitCode !== 0) throw new Error(`keeper did not start: ${run.stderr}`);
  await poll('the keeper to count', () => readText(client, id, '/tmp/counter').then((t) => t || undefined));
}

export async function keeperCounter(client: HostAgentClient, id: string): Promise<number> {
  return Number(await readText(client, id, '/tmp/counter'));
}

async function signalKeeper(client: HostAgentClient, id: string, signal: string): Promise<void> {
  const res = await execText(client, id, 'sh', [
    '-c',
    `rm -f /tmp/verify; kill -${signal} $(cat /tmp/keeper.pid)`,
  ]);
  if (res.exitCode !== 0) throw new Error(`kill -${signal} failed: ${res.stderr}`);
}

/** Has the keeper check all its pages: the counter it saw, and whether every page held what it should. */
export async function verifyKeeper(
  client: HostAgentClient,
  id: string,
): Promise<{ counter: number; result: string }> {
  await signalKeeper(client, id, 'USR1');
  const text = await poll('the keeper to verify', () =>
    readText(client, id, '/tmp/verify').then((t) => t || undefined),
  );
  const [counter, ...rest] = text.split(' ');
  return { counter: Number(counter), result: rest.join(' ') };
}

export async function zeroKeeperPages(client: HostAgentClient, id: string): Promise<void> {
  await signalKeeper(client, id, 'USR2');
  await poll('the keeper to zero its pages', () =>
    readText(client, id, '/tmp/zeroed').then((t) => t || undefined),
  );
}
