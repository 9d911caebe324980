import { isIP } from 'node:net';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `unix:/path/agent.sock`, `127.0.0.1:7000` or `[::1]:7000`. */
export function parseListenAddress(value: string): ListenAddress {
  if (value.startsWith('unix:')) return { kind: 'unix', path: value.slice(5) };
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(value);
  const host = match?.[1];
  const port = Number(match?.[2]);
  if (!host || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid listen address "${value}": use unix:<path> or <host>:<port>`);
  }
  return { kind: 'tcp', host, port };
}

/** Only a unix socket or a loopback address may skip the token. */
export function isLocal(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  if (address.host === 'localhost') return true;
  if (isIP(address.host) === 4) return address.host.startsWith('127.');
  return address.host === '::1';
}

/** Throws unless `listen` is local or a token is set: checked before the agent starts anything. */
export function assertListenAllowed(listen: string, token: string | undefined): ListenAddress {
  const address = parseListenAddress(listen);
  if (!isLocal(address) && !token) {
    throw new Error(`refusing to listen on ${listen} without a token (set AMBER_AGENT_TOKEN)`);
  }
  return address;
}
