import type { NetworkRules, OnTimeout, SandboxState } from './types.js';
import type { WebSocketConstructor } from './web-socket.js';

/** Where the API is and who is calling. Every field falls back to the environment (see README). */
export interface ConnectionOptions {
  /** Default: `AMBER_URL`, then (Node) the URL `amber up` wrote to `$AMBER_HOME/url`, then http://127.0.0.1:4280. */
  url?: string;
  /** Default: `AMBER_API_KEY`, then (Node, loopback URL only) the key file `$AMBER_HOME/api-key`. */
  apiKey?: string;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** A WHATWG-style WebSocket class. Default: the global one in browsers, the `ws` package in Node. */
  WebSocket?: WebSocketConstructor;
}

export interface CreateSandboxOptions {
  /** A snapshot name; omitted: the built-in `base`; `null`: a cold boot. */
  template?: string | null;
  vcpus?: number;
  memoryMb?: number;
  timeoutSec?: number;
  onTimeout?: OnTimeout;
  metadata?: Record<string, string>;
  envs?: Record<string, string>;
  /** Outbound rules: IPv4 addresses or CIDRs; `allowOut` wins over `denyOut`; '0.0.0.0/0' is everything. */
  network?: Partial<NetworkRules>;
}

export interface ListSandboxesOptions {
  state?: SandboxState | SandboxState[];
  /** Every pair must match. */
  metadata?: Record<string, string>;
  /** Page size (1..1000); `list` still follows every page. */
  pageSize?: number;
}

export interface ExecOptions {
  envs?: Record<string, string>;
  cwd?: string;
  user?: string;
  timeoutSec?: number;
  /** Text given to the command's standard input, which is then closed. */
  stdin?: string;
}

export interface ExecStreamOptions {
  envs?: Record<string, string>;
  cwd?: string;
  user?: string;
  timeoutSec?: number;
  /** Run under a pseudo-terminal (output comes as stdout; `resize` works). */
  pty?: boolean;
  cols?: number;
  rows?: number;
}
