// Shared by the command files: an RPC client to the host agent and plain-text formatting.
import { connectHostAgent, type HostAgentClient, loadConfig } from '@amber/host-agent';
import { type Sandbox, SandboxState } from '@amber/proto/hostagent';

export function withClient<A extends unknown[]>(fn: (client: HostAgentClient, ...args: A) => Promise<void>) {
  return async (...args: A) => {
    const address = process.env.AMBER_AGENT ?? loadConfig().listen;
    const { client, close } = connectHostAgent(address, process.env.AMBER_AGENT_TOKEN);
    try {
      await fn(client, ...args);
    } finally {
      close();
    }
  };
}

export function describe(s: Sandbox | undefined): string {
  if (!s) return '';
  const state = SandboxState[s.state].toLowerCase();
  const expires = new Date(Number(s.expiresAtMs)).toISOString();
  return `${s.id}  ${state}  ${s.vcpus} vcpu  ${s.memoryMib} MiB  expires ${expires}${s.error ? `  (${s.error})` : ''}`;
}

export function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`not an integer: ${value}`);
  return n;
}
