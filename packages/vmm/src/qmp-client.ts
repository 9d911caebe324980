import { EventEmitter, once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { VmmError } from './errors.js';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** The commands Amber uses, with their argument and return shapes (QEMU's QAPI schema). */
export interface QmpCommands {
  qmp_capabilities: { args: Record<string, never>; ret: Record<string, never> };
  'query-status': { args: Record<string, never>; ret: { status: string; running: boolean } };
  stop: { args: Record<string, never>; ret: Record<string, never> };
  cont: { args: Record<string, never>; ret: Record<string, never> };
  quit: { args: Record<string, never>; ret: Record<string, never> };
  'migrate-set-capabilities': {
    args: { capabilities: Array<{ capability: string; state: boolean }> };
    ret: Record<string, never>;
  };
  'query-migrate-capabilities': {
    args: Record<string, never>;
    ret: Array<{ capability: string; state: boolean }>;
  };
  'query-migrate-parameters': { args: Record<string, never>; ret: Record<string, unknown> };
  migrate: { args: { uri: string }; ret: Record<string, never> };
  'migrate-incoming': { args: { uri: string }; ret: Record<string, never> };
  'query-migrate': {
    args: Record<string, never>;
    ret: { status?: string; 'error-desc'?: string; ram?: { transferred: number; total: number } };
  };
  'human-monitor-command': { args: { 'command-line': string }; ret: string };
  'blockdev-snapshot-sync': {
    args: {
      'node-name': string;
      'snapshot-file': string;
      'snapshot-node-name': string;
      format: string;
      mode: 'existing' | 'absolute-paths';
    };
    ret: Record<string, never>;
  };
  'blockdev-add': { args: Record<string, unknown>; ret: Record<string, never> };
  'blockdev-reopen': { args: { options: Array<Record<string, unknown>> }; ret: Record<string, never> };
  'blockdev-del': { args: { 'node-name': string }; ret: Record<string, never> };
  'query-named-block-nodes': {
    args: { flat?: boolean };
    ret: Array<{ 'node-name': string; drv: string; file?: string }>;
  };
}

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  command: string;
};

/**
 * A QMP client over QEMU's unix socket: JSON lines, commands matched to replies by id, asynchronous events
 * re-emitted as 'event'. 'close' fires when QEMU goes away, which is also how an adopted QEMU's exit is seen.
 */
export class QmpClient extends EventEmitter {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closedError?: VmmError;
  private greeting?: () => void;

  private constructor(private readonly socket: Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => {
      // 'close' follows and fails whatever is pending.
    });
  }

  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = createConnection(path);
    const timer = setTimeout(() => socket.destroy(new Error('timed out')), timeoutMs);
    try {
      await once(socket, 'connect');
    } catch (err) {
      throw new VmmError('qmp_closed', `cannot connect to QMP at ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
    const client = new QmpClient(socket);
    try {
      await client.handshake(timeoutMs);
    } catch (err) {
      // QEMU serves one QMP client at a time: a connection left open here would be greeted once the
      // current client leaves and hold the monitor for nobody, so every later connect would fail.
      client.close();
      throw err;
    }
    return client;
  }

  private async handshake(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new VmmError('qmp_timeout', 'no QMP greeting')), timeoutMs);
      this.greeting = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('close', () => reject(new VmmError('qmp_closed', 'QMP closed before its greeting')));
    });
    await this.execute('qmp_capabilities', {}, timeoutMs);
  }

  execute<K extends keyof QmpCommands>(
    command: K,
    args: QmpCommands[K]['args'],
    timeoutMs = 10_000,
  ): Promise<QmpCommands[K]['ret']> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    const message =
      Object.keys(args).length > 0 ? { execute: command, arguments: args, id } : { execute: command, id };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VmmError('qmp_timeout', `QMP ${command} got no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, command });
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Resolves with the first event named `name` (optionally matching `filter`) or rejects on timeout/close. */
  waitForEvent(
    name: string,
    timeoutMs: number,
    filter: (e: QmpEvent) => boolean = () => true,
  ): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name || !filter(e)) return;
        cleanup();
        resolve(e);
      };
      const onClose = () => {
        cleanup();
        reject(new VmmError('qmp_closed', `QMP closed while waiting for ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new VmmError('qmp_timeout', `no ${name} event in ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(JSON.parse(line) as Record<string, unknown>);
    }
  }

  private onMessage(msg: Record<string, unknown>): void {
    if ('QMP' in msg) {
      this.greeting?.();
      return;
    }
    if ('event' in msg) {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const pending = id ? this.pending.get(id) : undefined;
    if (!pending || !id) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in msg) {
      const error = msg.error as { class?: string; desc?: string };
      pending.reject(
        new VmmError('qmp_error', `QMP ${pending.command} failed: ${error.desc ?? error.class}`),
      );
    } else {
      pending.resolve(msg.return);
    }
  }

  private onClose(): void {
    this.closedError = new VmmError('qmp_closed', 'the QMP connection closed (QEMU exited?)');
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(this.closedError);
      this.pending.delete(id);
    }
    this.emit('close');
  }
}
