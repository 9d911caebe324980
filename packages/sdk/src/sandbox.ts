import { type Connection, resolveConnection } from './connection.js';
import { ExecStream } from './exec-stream.js';
import { SandboxFiles } from './files.js';
import { request, requestJson, seg } from './http.js';
import type {
  ConnectionOptions,
  CreateSandboxOptions,
  ExecOptions,
  ExecStreamOptions,
  ListSandboxesOptions,
} from './options.js';
import type { ExecResult, NetworkRules, SandboxEvent, SandboxInfo, SandboxState } from './types.js';

/** A string runs under `/bin/sh -c`; an array is an argv, run as is. */
export type Command = string | string[];

function commandField(cmd: Command): { cmd: string[] } | { command: string } {
  return typeof cmd === 'string' ? { command: cmd } : { cmd };
}

export class Sandbox {
  readonly files: SandboxFiles;

  private constructor(
    private readonly conn: Connection,
    /** The last state the API reported; every call that returns the sandbox refreshes it. */
    public info: SandboxInfo,
  ) {
    this.files = new SandboxFiles(conn, info.id);
  }

  get id(): string {
    return this.info.id;
  }

  get state(): SandboxState {
    return this.info.state;
  }

  static async create(opts: CreateSandboxOptions = {}, conn?: ConnectionOptions): Promise<Sandbox> {
    const c = await resolveConnection(conn);
    return new Sandbox(c, await requestJson<SandboxInfo>(c, 'POST', '/v1/sandboxes', { json: opts }));
  }

  static async get(id: string, conn?: ConnectionOptions): Promise<Sandbox> {
    const c = await resolveConnection(conn);
    return new Sandbox(c, await requestJson<SandboxInfo>(c, 'GET', `/v1/sandboxes/${seg(id)}`));
  }

  /** Every sandbox of the key's team that matches, following the pages. */
  static async list(opts: ListSandboxesOptions = {}, conn?: ConnectionOptions): Promise<Sandbox[]> {
    const c = await resolveConnection(conn);
    const state = Array.isArray(opts.state) ? opts.state.join(',') : opts.state;
    const metadata = opts.metadata ? new URLSearchParams(opts.metadata).toString() : undefined;
    const out: Sandbox[] = [];
    let nextToken: string | undefined;
    do {
      const page = await requestJson<{ sandboxes: SandboxInfo[]; nextToken: string | null }>(
        c,
        'GET',
        '/v1/sandboxes',
        { query: { state, metadata, limit: opts.pageSize, nextToken } },
      );
      for (const info of page.sandboxes) out.push(new Sandbox(c, info));
      nextToken = page.nextToken ?? undefined;
    } while (nextToken);
    return out;
  }

  private path(suffix = ''): string {
    return `/v1/sandboxes/${seg(this.id)}${suffix}`;
  }

  private async update(suffix: string, json: unknown = {}): Promise<this> {
    this.info = await requestJson<SandboxInfo>(this.conn, 'POST', this.path(suffix), { json });
    return this;
  }

  /** Reloads `info` from the API. */
  async refresh(): Promise<this> {
    this.info = await requestJson<SandboxInfo>(this.conn, 'GET', this.path());
    return this;
  }

  /** Runs a command to its end and returns its whole output (use execStream for large or live output). */
  async exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    return requestJson<ExecResult>(this.conn, 'POST', this.path('/exec'), {
      json: { ...commandField(cmd), ...opts },
    });
  }

  /** Starts a command and streams its output; resolves once it has started. */
  async execStream(cmd: Command, opts: ExecStreamOptions = {}): Promise<ExecStream> {
    return ExecStream.open(this.conn.openWebSocket(this.path('/exec/stream')), {
      ...commandField(cmd),
      ...opts,
    });
  }

  /** Writes memory and disk to the host's storage and frees its memory and CPU. */
  pause(): Promise<this> {
    return this.update('/pause');
  }

  /** Restores a paused sandbox (processes and files as they were) with its own timeout restarted. */
  resume(): Promise<this> {
    return this.update('/resume');
  }

  /** Sets the timeout and restarts it: the sandbox now expires `timeoutSec` from now. */
  setTimeout(timeoutSec: number): Promise<this> {
    return this.update('/timeout', { timeoutSec });
  }

  /** Replaces the outbound rules, all of them (`{}` clears them); a paused sandbox's apply on resume. */
  async updateNetwork(network: Partial<NetworkRules>): Promise<this> {
    this.info = await requestJson<SandboxInfo>(this.conn, 'PUT', this.path('/network'), { json: network });
    return this;
  }

  /** New sandboxes from this one's current state. */
  async fork(count = 1): Promise<Sandbox[]> {
    const res = await requestJson<{ sandboxes: SandboxInfo[] }>(this.conn, 'POST', this.path('/fork'), {
      json: { count },
    });
    return res.sandboxes.map((info) => new Sandbox(this.conn, info));
  }

  /** Its last `limit` (default 100) events, oldest first. */
  async events(opts: { limit?: number } = {}): Promise<SandboxEvent[]> {
    const res = await requestJson<{ events: SandboxEvent[] }>(this.conn, 'GET', this.path('/events'), {
      query: { limit: opts.limit },
    });
    return res.events;
  }

  /** Destroys the sandbox and everything it holds. */
  async kill(): Promise<void> {
    await request(this.conn, 'DELETE', this.path());
  }
}
