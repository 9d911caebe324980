import { Agent, type AgentOptions, type ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import { openTunnel } from '../tunnel/tunnel-socket.js';

/**
 * An idle connection is closed after this long: well under envd's keep-alive (65 s), so envd never closes
 * one just as it is reused, and short enough that an idle sandbox holds no tunnel for long.
 */
const IDLE_MS = 4_000;
const MAX_IDLE_PER_TARGET = 8;

/** Keep-alive connections to one guest port, each a tunnel connection through the host agent. */
class TunnelAgent extends Agent {
  #retired = false;

  constructor(
    private readonly tunnelPath: string,
    private readonly sandboxId: string,
    private readonly port: number,
    idleMs: number,
  ) {
    super({ keepAlive: true, timeout: idleMs, maxFreeSockets: MAX_IDLE_PER_TARGET } as AgentOptions);
  }

  // Node's Agent takes the socket from the callback when createConnection returns nothing.
  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    openTunnel(this.tunnelPath, this.sandboxId, this.port).then(
      (socket) => {
        callback?.(null, socket);
        socket.resume();
      },
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }

  /**
   * No new request and no reuse from now on: idle connections close at once, busy ones once their answer
   * is done, so a stream that is still running (a command's output) is never cut.
   */
  retire(): void {
    this.#retired = true;
    for (const sockets of Object.values(this.freeSockets))
      for (const socket of sockets ?? []) socket.destroy();
  }

  // Node asks this when a request is done with a socket; false closes it (@types/node says void).
  override keepSocketAlive(socket: Duplex): boolean {
    return !this.#retired && (super.keepSocketAlive(socket) as unknown as boolean);
  }

  get idle(): boolean {
    const count = (sockets: NodeJS.ReadOnlyDict<unknown[]>) =>
      Object.values(sockets).reduce((n, list) => n + (list?.length ?? 0), 0);
    return count(this.sockets) + count(this.freeSockets) + count(this.requests) === 0;
  }
}

/**
 * Pooled connections per guest port, so the envd proxy does not open a tunnel (a unix connection, a line
 * exchange, a TCP connect inside the sandbox's namespace) for every request. A pool belongs to one epoch
 * of its sandbox (the row's `updated_at`): any change — pause, resume, kill, but also a new timeout —
 * starts a new pool and retires the old one, so no request is ever sent on a connection into a VM that
 * has since been paused or restored, while requests already in flight run to their end (or fail with the
 * VM they were talking to).
 */
export class GuestPool {
  readonly #pools = new Map<string, { epoch: number; agent: TunnelAgent }>();

  constructor(private readonly idleMs = IDLE_MS) {}

  agentFor(tunnelPath: string, sandboxId: string, port: number, epoch: number): Agent {
    const key = `${sandboxId} ${port}`;
    const hit = this.#pools.get(key);
    if (hit && hit.epoch === epoch) return hit.agent;
    hit?.agent.retire();
    this.#sweep();
    const agent = new TunnelAgent(tunnelPath, sandboxId, port, this.idleMs);
    this.#pools.set(key, { epoch, agent });
    return agent;
  }

  /** Forgets pools with nothing open (sandboxes gone or idle), so the map does not grow with every id. */
  #sweep(): void {
    for (const [key, pool] of this.#pools) {
      if (pool.agent.idle) {
        pool.agent.destroy();
        this.#pools.delete(key);
      }
    }
  }

  /** Pools currently kept (for tests and logs). */
  get size(): number {
    return this.#pools.size;
  }

  close(): void {
    for (const pool of this.#pools.values()) pool.agent.destroy();
    this.#pools.clear();
  }
}
