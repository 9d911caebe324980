import type { IncomingMessage } from 'node:http';
import { Process } from '@amber/proto/process';
import { type Client, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AgentError } from '../errors.js';
import type { EnvdConnection } from './control-channel.js';
import { EnvdHttp, envdHttpError, readBody } from './envd-http.js';
import { type GuestWatch, type HeldConnection, KeptConnection } from './kept-connection.js';
import { commandEnd } from './process-end.js';

export const ENVD_PORT = 49983;

const ROOT_USER_HEADER = { authorization: `Basic ${Buffer.from('root:').toString('base64')}` };

export interface ExecEvent {
  pid?: number;
  stdout?: Uint8Array;
  stderr?: Uint8Array;
  exit?: { exitCode: number; signal: string };
}

/** How a restored guest was reached: on its resumed connection, or (after `resumeError`) a new one. */
export type ReadyOutcome = { connection: 'resumed' } | { connection: 'new'; resumeError?: unknown };

/** An answer later than this may have set the clock that much behind (the skew allowed is 1 s). */
const LATE_ANSWER_MS = 500;

export interface ExecOptions {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
}

/**
 * Talks to one guest's envd: HTTP and Connect RPCs on new connections, and the connection kept across
 * snapshots (`KeptConnection`) for a capture's `sync` and a restore's `init`.
 */
export class EnvdClient {
  readonly process: Client<typeof Process>;
  readonly #http: EnvdHttp;
  readonly #kept: KeptConnection;

  constructor(nsPath: string, host: string, port = ENVD_PORT) {
    this.#http = new EnvdHttp(nsPath, host, port);
    this.#kept = new KeptConnection(this.#http);
    this.process = createClient(
      Process,
      createConnectTransport({
        baseUrl: `http://${host}:${port}`,
        httpVersion: '1.1',
        nodeOptions: { createConnection: () => this.#http.connect() },
      }),
    );
  }

  async health(timeoutMs = 1000): Promise<boolean> {
    const req = this.#http.request('GET', '/health');
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    try {
      const res = await this.#http.send(req);
      res.resume();
      return res.statusCode === 204;
    } catch {
      return false;
    }
  }

  /** Polls /health until envd answers; `alive` lets the caller stop early when the VM dies. */
  async waitHealthy(timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!alive()) throw new AgentError('unavailable', 'the VM exited before its guest agent answered');
      // Short attempts: until the guest configures its address, a connect just hangs on ARP.
      if (await this.health(Math.min(250, deadline - Date.now()))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new AgentError('deadline_exceeded', `the guest agent did not answer within ${timeoutMs} ms`);
  }

  /**
   * After a restore: /init doubles as the health check (the network is already up, so a failed connect
   * fails fast), saving a round trip through a guest whose translated code is still cold. `resumed`: the
   * connection the guest held open when it was captured, rebuilt (no handshake, no accept in the guest);
   * if it does not answer, fresh connections take over.
   */
  async initWhenReady(timeoutMs: number, guest: GuestWatch, resumed?: EnvdConnection): Promise<ReadyOutcome> {
    const deadline = Date.now() + timeoutMs;
    let resumeError: unknown;
    if (resumed) {
      try {
        const sent = Date.now();
        await this.#kept.initResumed(resumed, deadline, guest);
        // The guest adds the time since it read the request, not since it was sent: a late answer may have
        // set a clock seconds behind, and a new request on a now responsive guest sets it right.
        if (Date.now() - sent > LATE_ANSWER_MS) await this.init({ timestamp: Date.now() });
        return { connection: 'resumed' };
      } catch (err) {
        resumed.socket.destroy();
        resumeError = err;
      }
    }
    let lastError = resumeError;
    for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
      if (!guest.alive())
        throw new AgentError('unavailable', 'the VM exited before its guest agent answered');
      try {
        await this.init({ timestamp: Date.now() }, Math.min(5000, left));
        return { connection: 'new', resumeError };
      } catch (err) {
        lastError = err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw new AgentError('deadline_exceeded', `the guest agent did not answer within ${timeoutMs} ms`, {
      cause: lastError,
    });
  }

  /** Sends the host's time (and env) after boot or restore; envd sets the guest clock from it. */
  async init(
    body: { timestamp?: number; envVars?: Record<string, string> },
    timeoutMs = 30_000,
  ): Promise<void> {
    await this.#http.noContent('POST', '/init', { timeoutMs, body: JSON.stringify(body) });
  }

  /** Flushes the guest's filesystems before a snapshot, on the kept connection, left held open. */
  sync(timeoutMs = 10_000): Promise<HeldConnection> {
    return this.#kept.sync(timeoutMs);
  }

  /** After a boot: a capture's calls then a restore's, so the guest has run both before its first snapshot. */
  rehearseRestore(timeoutMs = 30_000): Promise<void> {
    return this.#kept.rehearseRestore(timeoutMs);
  }

  /** Destroys the kept connection (the VM is going away). */
  close(): void {
    this.#kept.close();
  }

  async *exec(options: ExecOptions): AsyncGenerator<ExecEvent> {
    const stream = this.process.start(
      {
        process: {
          cmd: options.cmd,
          args: options.args,
          envs: options.envs,
          ...(options.cwd && { cwd: options.cwd }),
        },
        // envd keeps stdin open by default (as E2B's does); the agent's Exec has no stdin to give.
        stdin: false,
      },
      // The agent is the host's operator: its commands run as root, like its file reads and writes. envd
      // takes the user from E2B's Basic header and would otherwise use its default, the unprivileged `user`.
      { headers: ROOT_USER_HEADER, ...(options.signal && { signal: options.signal }) },
    );
    for await (const res of stream) {
      const event = res.event?.event;
      if (!event) continue;
      if (event.case === 'start') yield { pid: event.value.pid };
      else if (event.case === 'data') {
        const out = event.value.output;
        if (out.case === 'stdout') yield { stdout: out.value };
        else if (out.case === 'stderr') yield { stderr: out.value };
      } else if (event.case === 'end') {
        const end = commandEnd(event.value);
        if ('notStarted' in end)
          throw new AgentError('failed_precondition', `cannot run ${options.cmd}: ${end.notStarted}`, {
            reason: end.reason,
          });
        yield { exit: { exitCode: end.exitCode, signal: end.signal ?? '' } };
      }
    }
  }

  /** Streams `chunks` into the guest file at `path` without holding the file in memory. */
  async writeFile(path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
    const req = this.#http.request('POST', `/files?${new URLSearchParams({ path, username: 'root' })}`, {
      'content-type': 'application/octet-stream',
      'transfer-encoding': 'chunked',
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    let bytes = 0;
    try {
      for await (const chunk of chunks) {
        bytes += chunk.byteLength;
        if (!req.write(chunk)) await new Promise<void>((resolve) => req.once('drain', resolve));
      }
      req.end();
    } catch (err) {
      // The destroyed request rejects `response` ("socket hang up"): handled here, or the agent dies of it.
      response.catch(() => undefined);
      req.destroy();
      throw err;
    }
    const res = await response;
    const text = await readBody(res);
    if (res.statusCode !== 200) throw envdHttpError(res.statusCode ?? 0, text, path);
    return bytes;
  }

  async *readFile(path: string): AsyncGenerator<Uint8Array> {
    const res = await this.#http.send(
      this.#http.request('GET', `/files?${new URLSearchParams({ path, username: 'root' })}`),
    );
    if (res.statusCode !== 200) throw envdHttpError(res.statusCode ?? 0, await readBody(res), path);
    for await (const chunk of res) yield chunk as Buffer;
  }
}

/** Maps a failure talking to envd into the agent's error space. */
export function fromEnvdError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  if (err instanceof ConnectError) {
    const code =
      err.code === Code.NotFound
        ? 'not_found'
        : err.code === Code.InvalidArgument
          ? 'invalid_argument'
          : err.code === Code.Unavailable
            ? 'unavailable'
            : 'internal';
    return new AgentError(code, `guest agent: ${err.rawMessage}`, { cause: err });
  }
  return new AgentError('unavailable', `guest agent unreachable: ${(err as Error).message}`, { cause: err });
}
