import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Socket } from 'node:net';
import { connectInNetns, saveTcpConnection, type TcpConnectionState } from '@amber/native';
import { Process } from '@amber/proto/process';
import { type Client, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AgentError } from '../errors.js';
import {
  CONTROL_PROTOCOL,
  ControlChannel,
  type EnvdConnection,
  type EnvdProtocol,
} from './control-channel.js';

export const ENVD_PORT = 49983;

const ROOT_USER_HEADER = { authorization: `Basic ${Buffer.from('root:').toString('base64')}` };

export interface ExecEvent {
  pid?: number;
  stdout?: Uint8Array;
  stderr?: Uint8Array;
  exit?: { exitCode: number; signal: string };
}

/** A connection envd keeps open while the VM is captured. */
export interface HeldConnection {
  readonly socket: Socket;
  readonly protocol: EnvdProtocol;
  /** Closes it (FIN): the guest sees the close. */
  release(): void;
  /**
   * Closes it silently after reading its TCP state (stop the VM first): the guest's end stays open, to be
   * carried on by `restoreTcpConnection` after a restore. Throws if it cannot be saved; closed either way.
   */
  save(): TcpConnectionState;
}

/** How a restored guest was reached: on its resumed connection, or (after `resumeError`) a new one. */
export type ReadyOutcome = { connection: 'resumed' } | { connection: 'new'; resumeError?: unknown };

/**
 * A rebuilt connection normally answers in ~100 ms even on an emulated CPU. Past this without an answer, it
 * is written off as soon as the guest is idle: a guest still busy (on a loaded host, 20 restores sharing 2
 * cores) is on its way to the answer, and the fresh connection that would replace it costs the guest a
 * handshake, an accept and cold code on top.
 */
const RESUMED_CONNECTION_PATIENCE_MS = 3000;
/** How often, past that, a busy guest is looked at again. */
const RESUMED_CONNECTION_RECHECK_MS = 500;
/** An answer later than this may have set the clock that much behind (the skew allowed is 1 s). */
const LATE_ANSWER_MS = 500;

/** What the client may ask of the VM while it waits for the guest. */
export interface GuestWatch {
  alive(): boolean;
  /** True if the guest's vCPUs are still: it is not working toward an answer. */
  idle(): Promise<boolean>;
}

export interface ExecOptions {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
}

/**
 * Talks to one guest's envd. Every connection is a TCP socket created inside the sandbox's network
 * namespace, so the guest is reachable from the agent and from nowhere else on the host.
 */
export class EnvdClient {
  readonly process: Client<typeof Process>;
  /** The connection a restore's /init answered on, kept open for the next capture's /sync (`keep`). */
  #spare: Socket | ControlChannel | undefined;
  /** envd answered `GET /control` without switching: a guest restored from before it had the channel. */
  #controlUnsupported = false;

  constructor(
    private readonly nsPath: string,
    private readonly host: string,
    private readonly port = ENVD_PORT,
  ) {
    const createConnection = () => connectInNetns(this.nsPath, this.host, this.port);
    this.process = createClient(
      Process,
      createConnectTransport({
        baseUrl: `http://${host}:${port}`,
        httpVersion: '1.1',
        nodeOptions: { createConnection },
      }),
    );
  }

  /**
   * No `agent` on purpose: Node ignores `createConnection` when an agent (even `false`) is given. `socket`:
   * an open connection to use instead of a new one.
   */
  private http(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    socket?: Socket,
  ): ClientRequest {
    return request({
      method,
      host: this.host,
      port: this.port,
      path,
      headers,
      createConnection: () => socket ?? connectInNetns(this.nsPath, this.host, this.port),
    });
  }

  private send(req: ClientRequest, body?: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
  }

  async health(timeoutMs = 1000): Promise<boolean> {
    const req = this.http('GET', '/health');
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    try {
      const res = await this.send(req);
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
        await this.#initResumed(resumed, deadline, guest);
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

  async #initResumed(resumed: EnvdConnection, deadline: number, guest: GuestWatch): Promise<void> {
    const started = Date.now();
    const timeoutMs = Math.max(1, deadline - started);
    const kept = resumed.protocol === 'control' ? new ControlChannel(resumed.socket) : resumed.socket;
    const answer = this.#initOn(kept, { timestamp: started }, timeoutMs).then(
      () => {
        this.#keep(kept);
        return { answered: true as const };
      },
      (err: unknown) => ({ answered: true as const, err }),
    );
    let wait = RESUMED_CONNECTION_PATIENCE_MS;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        answer,
        new Promise<{ answered: false }>((r) => {
          timer = setTimeout(() => r({ answered: false }), wait);
        }),
      ]);
      clearTimeout(timer);
      if (outcome.answered) {
        if ('err' in outcome) throw outcome.err;
        return;
      }
      if (!guest.alive()) throw new Error('the VM exited');
      if (await guest.idle())
        throw new Error(`no answer in ${Date.now() - started} ms, and the guest is idle`);
      wait = RESUMED_CONNECTION_RECHECK_MS;
    }
  }

  /** Sends the host's time (and env) after boot or restore; envd sets the guest clock from it. */
  async init(
    body: { timestamp?: number; envVars?: Record<string, string> },
    timeoutMs = 30_000,
    socket?: Socket,
  ): Promise<void> {
    await this.noContent('POST', '/init', { timeoutMs, socket, body: JSON.stringify(body) });
  }

  /**
   * Flushes the guest's filesystems to its disk (before a snapshot). The connection stays open until
   * released, so envd is idle when the VM stops: a snapshot taken while envd still closed the connection
   * carried that work into every restore (~1,600 more translation blocks on the way to ready).
   */
  async sync(timeoutMs = 10_000): Promise<HeldConnection> {
    return heldConnection(await this.#sync(timeoutMs));
  }

  /**
   * A capture's calls then a restore's, on one connection kept for the next capture: after a boot, so the
   * guest has run the code of both before its first snapshot.
   */
  async rehearseRestore(timeoutMs = 30_000): Promise<void> {
    const kept = await this.#sync(timeoutMs);
    try {
      await this.#initOn(kept, { timestamp: Date.now() }, timeoutMs);
    } catch (err) {
      kept.destroy();
      throw err;
    }
    this.#keep(kept);
  }

  async #sync(timeoutMs: number): Promise<Socket | ControlChannel> {
    const channel = await this.#controlChannel(timeoutMs);
    const kept =
      channel ??
      (await this.#syncOnSpare(timeoutMs)) ??
      (await this.noContent('POST', '/sync', { timeoutMs, keepAlive: true }));
    try {
      // Then, on the same connection, an empty /init: what a restore sends first is what the guest ran
      // last, so V8's inline caches and map transitions for it are in the snapshot. After other work (an
      // exec) they had changed, and a template's first answer ran ~2,500 more translation blocks.
      if (kept instanceof ControlChannel) await kept.call({ op: 'sync' }, timeoutMs);
      await this.#initOn(kept, {}, timeoutMs);
    } catch (err) {
      kept.destroy();
      throw err;
    }
    return kept;
  }

  /** `init` on a connection kept open, in the protocol it speaks. */
  async #initOn(
    kept: Socket | ControlChannel,
    body: { timestamp?: number },
    timeoutMs: number,
  ): Promise<void> {
    if (kept instanceof ControlChannel) await kept.call({ op: 'init', ...body }, timeoutMs);
    else
      await this.noContent('POST', '/init', {
        timeoutMs,
        keepAlive: true,
        socket: kept,
        body: JSON.stringify(body),
      });
  }

  /** One request that must answer 204; returns its connection (left open with `keepAlive`). */
  private async noContent(
    method: string,
    path: string,
    options: { timeoutMs: number; keepAlive?: boolean; socket?: Socket; body?: string },
  ): Promise<Socket> {
    const headers: Record<string, string> = options.keepAlive ? { connection: 'keep-alive' } : {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const req = this.http(method, path, headers, options.socket);
    const { timeoutMs } = options;
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    const res = await this.send(req, options.body);
    const text = await readBody(res);
    const socket = req.socket;
    if (res.statusCode !== 204 || !socket) {
      socket?.destroy();
      throw new AgentError('internal', `envd ${path} answered ${res.statusCode}: ${text}`);
    }
    return socket;
  }

  /**
   * Keeps a connection envd answered on, idle: closing it right after a restore's /init ran the guest's
   * whole teardown (Node's stream and handle close, the kernel's socket release, RCU) while other restores
   * competed for the cores, and the next capture then opened a new one (handshake, accept). envd closes
   * it after its keep-alive timeout; a teardown (`close`) destroys it.
   */
  #keep(kept: Socket | ControlChannel): void {
    this.#spare?.destroy();
    this.#spare = kept;
    const socket = kept instanceof ControlChannel ? kept.socket : kept;
    // Errors end it like a close does; a keep-alive socket has no other listener left to take them.
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      if (this.#spare === kept) this.#spare = undefined;
    });
  }

  /**
   * The kept control channel, else a new one; undefined when the kept connection speaks HTTP (the guest
   * was captured by an envd from before the channel) or envd turns the upgrade down.
   */
  async #controlChannel(timeoutMs: number): Promise<ControlChannel | undefined> {
    const spare = this.#spare;
    if (spare instanceof ControlChannel) {
      this.#spare = undefined;
      if (spare.usable) return spare;
      spare.destroy();
    } else if (spare && !spare.destroyed) return undefined;
    if (this.#controlUnsupported) return undefined;
    const req = this.http('GET', '/control', { connection: 'Upgrade', upgrade: CONTROL_PROTOCOL });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    const switched = await new Promise<Socket | undefined>((resolve, reject) => {
      req.once('upgrade', (_res, socket: Socket) => resolve(socket));
      req.once('response', (res: IncomingMessage) => {
        res.resume();
        resolve(undefined);
      });
      req.once('error', reject);
      req.end();
    });
    if (!switched) this.#controlUnsupported = true;
    return switched && new ControlChannel(switched);
  }

  /** /sync on the kept connection; undefined if there is none, or it failed (a new one then does it). */
  async #syncOnSpare(timeoutMs: number): Promise<Socket | undefined> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (!spare || spare instanceof ControlChannel || spare.destroyed || !spare.writable) return undefined;
    // Mostly envd's keep-alive close crossing the request; either way a new connection tries once more.
    return this.noContent('POST', '/sync', { timeoutMs, keepAlive: true, socket: spare }).catch(() => {
      spare.destroy();
      return undefined;
    });
  }

  /** Destroys the kept connection (the VM is going away). */
  close(): void {
    this.#spare?.destroy();
    this.#spare = undefined;
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
        const signal = event.value.status.startsWith('signal: ') ? event.value.status.slice(8) : '';
        if (event.value.error && !event.value.exited && !signal) {
          throw new AgentError('failed_precondition', `cannot run ${options.cmd}: ${event.value.error}`);
        }
        yield { exit: { exitCode: event.value.exitCode, signal } };
      }
    }
  }

  /** Streams `chunks` into the guest file at `path` without holding the file in memory. */
  async writeFile(path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
    const req = this.http('POST', `/files?${new URLSearchParams({ path, username: 'root' })}`, {
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
    const res = await this.send(
      this.http('GET', `/files?${new URLSearchParams({ path, username: 'root' })}`),
    );
    if (res.statusCode !== 200) throw envdHttpError(res.statusCode ?? 0, await readBody(res), path);
    for await (const chunk of res) yield chunk as Buffer;
  }
}

function heldConnection(kept: Socket | ControlChannel): HeldConnection {
  const socket = kept instanceof ControlChannel ? kept.socket : kept;
  return {
    socket,
    protocol: kept instanceof ControlChannel ? 'control' : 'http',
    release: () => socket.destroy(),
    save: () => {
      try {
        return saveTcpConnection(socket);
      } finally {
        socket.destroy();
      }
    },
  };
}

async function readBody(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += chunk;
  return text;
}

function envdHttpError(status: number, body: string, path: string): AgentError {
  let message = body;
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    // not JSON; keep the raw text
  }
  const code =
    status === 404
      ? 'not_found'
      : status === 400
        ? 'invalid_argument'
        : status === 507
          ? 'resource_exhausted'
          : 'internal';
  return new AgentError(code, `${path}: ${message}`);
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
